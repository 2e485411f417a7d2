/// <reference path=".sst/platform/config.d.ts" />
// glad-clusters on AWS (SST v3): results bucket, tile queue + dead-letter queue, ledger table, the
// three Lambda handlers and the queue of aggregator events that failed every attempt.
// Deploy: `npx sst deploy --stage NAME`; remove: `npx sst remove --stage NAME`.
//
// Least privilege: an SST `link` grants every action on the linked resource (s3:*, dynamodb:*), so
// the functions are NOT linked. Each gets the SST_RESOURCE_<Name> variable core/store/aws.ts reads (the
// same JSON a link would set) and an IAM statement per action it really calls, on the key prefixes
// it writes. Scripts under `sst shell` still see every resource of the app.

/** Lambda runtime of every function. */
const RUNTIME = "nodejs22.x";

/**
 * Deploy-time settings (environment of `sst deploy`), each checked here so a typo fails the deploy:
 * - LAMBDA_ARCHITECTURE: `x86_64` (default, the measured one) or `arm64` (Graviton, ~20 % cheaper
 *   per GB-s; the bundles are JS + WebAssembly; see docs/operations.md, cost model);
 * - CONSUMER_MAX_CONCURRENCY: most consumer instances the tile queue may run at once (SQS event
 *   source `maximumConcurrency`, 2..1000, default 100: the pan-tropical hour needs ~80), so a big
 *   run cannot take the account's concurrency from the aggregator and the dead-letter handler, nor
 *   flood the tile server.
 */
function deployConfig(env: Record<string, string | undefined> = process.env) {
  const architecture = env.LAMBDA_ARCHITECTURE || "x86_64";
  if (architecture !== "x86_64" && architecture !== "arm64") {
    throw new Error(`LAMBDA_ARCHITECTURE must be x86_64 or arm64, got ${JSON.stringify(architecture)}`);
  }
  const raw = env.CONSUMER_MAX_CONCURRENCY || "100";
  const maxConcurrency = Number(raw);
  if (!/^\d+$/.test(raw) || maxConcurrency < 2 || maxConcurrency > 1000) {
    throw new Error(`CONSUMER_MAX_CONCURRENCY must be an integer in 2..1000 (SQS maximumConcurrency), got ${JSON.stringify(raw)}`);
  }
  return { architecture: architecture as "x86_64" | "arm64", maxConcurrency };
}

/** The dead-letter handler's timeout, s; its queue's visibility is 6× that (AWS's advice). */
const DEAD_LETTER_TIMEOUT_S = 30;

export default $config({
  app(input) {
    return {
      name: "glad-clusters",
      home: "aws",
      // Keep a production stage's data when the stage is removed; throw away any other stage's.
      removal: input?.stage === "production" ? "retain" : "remove",
      protect: input?.stage === "production",
    };
  },
  async run() {
    const { architecture, maxConcurrency } = deployConfig();
    // The sources a run may read (core/store/run-sources.ts AllowedSources): `enqueue` under
    // `sst shell` refuses a run naming anything else at submit time, the consumer refuses such a
    // message, and the consumer's role may read only these buckets. Set at deploy time (comma lists):
    //   GLAD_TILE_BUCKETS    s3 buckets of tiles (the bucket of an s3:// TILES_URL is added)
    //   GLAD_RASTER_BUCKETS  s3 buckets of date_conf GeoTIFFs (--raster s3://…)
    //   GLAD_TILE_HOSTS      http(s) hosts of tiles and rasters (default: the GFW tile cache)
    //   GLAD_DATASETS        datasets runs may name (default: all of core/tiles/datasets.ts)
    // A local path or file:// is never a source on AWS (Lambda reads no local files).
    const list = (value: string | undefined) => (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const tilesBucket = /^s3:\/\/([^/]+)\//.exec(process.env.TILES_URL ?? "")?.[1];
    const sources = {
      tileBuckets: [...new Set([...list(process.env.GLAD_TILE_BUCKETS), ...(tilesBucket ? [tilesBucket] : [])])],
      rasterBuckets: list(process.env.GLAD_RASTER_BUCKETS),
      hosts: list(process.env.GLAD_TILE_HOSTS ?? "tiles.globalforestwatch.org"),
      datasets: list(process.env.GLAD_DATASETS ?? "glad-l,glad-s2,radd,integrated,dist,glad-2018"),
    };
    // Linkable: `sst shell` sets SST_RESOURCE_Sources for enqueue; the consumer gets the same JSON.
    new sst.Linkable("Sources", { properties: sources });
    // Reading tiles and rasters: GetObject (rasters: ranged), and ListBucket so that a missing tile
    // (no alerts) is a 404, on exactly these buckets.
    const readBuckets = [...new Set([...sources.tileBuckets, ...sources.rasterBuckets])];
    const readTiles = readBuckets.length
      ? [
          { actions: ["s3:GetObject"], resources: readBuckets.map((b) => `arn:aws:s3:::${b}/*`) },
          { actions: ["s3:ListBucket"], resources: readBuckets.map((b) => `arn:aws:s3:::${b}`) },
        ]
      : [];

    // Private: SST's Bucket blocks all public access and its bucket policy denies requests not made
    // over TLS (aws:SecureTransport). S3 encrypts every new object at rest with SSE-S3 (AES-256); that
    // default cannot be switched off. No browser reads the bucket, so no CORS rule either.
    const results = new sst.aws.Bucket("Results", { cors: false });
    const objects = (pattern: string) => $interpolate`${results.arn}/${pattern}`;
    /** What `link: [results]` would put in the environment, without its s3:* grant. */
    const resultsEnv = { SST_RESOURCE_Results: $jsonStringify({ name: results.name }) };
    // HeadObject/GetObject of a missing key answer 404 only to a caller that may list the bucket
    // (403 otherwise, which the handlers would take for a real failure). Listing is limited to runs/.
    const listResults = {
      actions: ["s3:ListBucket"],
      resources: [results.arn],
      conditions: [{ test: "StringLike", variable: "s3:prefix", values: ["runs/*"] }],
    };
    // The keys the handlers read: a tile's files (result, error record, last error) and manifests.
    const readResults = { actions: ["s3:GetObject"], resources: [objects("runs/*/tiles/*"), objects("runs/*/manifest.json")] };
    const writeManifests = { actions: ["s3:PutObject"], resources: [objects("runs/*/manifest.json")] };
    // Tile results and error records, records of bad messages (core/run/keys.ts) — not manifests.
    const writeResults = {
      actions: ["s3:PutObject"],
      resources: [objects("runs/*/tiles/*"), objects("runs/*/messages/*"), objects("errors/unroutable/*")],
    };

    const ledger = new sst.aws.Dynamo("Ledger", {
      fields: { pk: "string", sk: "string" },
      primaryIndex: { hashKey: "pk", rangeKey: "sk" },
      // Point-in-time recovery (35 days of restores; priced in docs/operations.md).
      transform: { table: { pointInTimeRecovery: { enabled: true } } },
    });
    const ledgerEnv = { SST_RESOURCE_Ledger: $jsonStringify({ name: ledger.name }) };
    /** The ledger calls that write a manifest (core/store/run-completion.ts) and record tiles. */
    const ledgerCalls = (actions: string[]) => ({ actions: actions.map((a) => `dynamodb:${a}`), resources: [ledger.arn] });

    // SQS-managed encryption at rest (the AWS default for new queues), stated explicitly.
    const encryptedQueue = { queue: { sqsManagedSseEnabled: true } };
    // A moved message keeps its first enqueue time, so the dead-letter queue keeps messages for
    // SQS's maximum, 14 days; its visibility is 6× its handler's timeout (AWS's advice).
    const deadLetter = new sst.aws.Queue("DeadLetter", {
      visibilityTimeout: `${6 * DEAD_LETTER_TIMEOUT_S} seconds`,
      transform: { queue: { ...encryptedQueue.queue, messageRetentionSeconds: 14 * 24 * 3600 } },
    });
    const tiles = new sst.aws.Queue("Tiles", {
      transform: encryptedQueue,
      // AWS advises ≥ 6× the consumer timeout, so a batch retried by Lambda is not redelivered early.
      // A record returned as a failure is not hidden that long: the consumer sets a short back-off.
      visibilityTimeout: "12 minutes",
      // A tile message that fails TILE_MAX_RECEIVES (5, core/run/messages.ts) receives goes to the
      // dead-letter queue; AWS advises ≥ 5 for a Lambda event source.
      dlq: { queue: deadLetter.arn, retry: 5 },
    });

    tiles.subscribe(
      {
        handler: "functions/consumer.handler",
        runtime: RUNTIME,
        architecture,
        timeout: "120 seconds",
        memory: "1024 MB",
        // The tile queue's URL: the consumer shortens the visibility of the records it returns.
        environment: { ...resultsEnv, ...ledgerEnv, SST_RESOURCE_Tiles: $jsonStringify({ url: tiles.url }), SST_RESOURCE_Sources: JSON.stringify(sources) },
        // Writes results, error records and last errors; reads no result. Records an empty tile in the
        // ledger itself and, when that completes the run, writes the manifest (core/store/run-completion.ts:
        // HEAD of the manifest = s3:GetObject on it, ListBucket so a missing one is a 404).
        permissions: [
          writeResults,
          writeManifests,
          { actions: ["s3:GetObject"], resources: [objects("runs/*/manifest.json")] },
          listResults,
          ledgerCalls(["GetItem", "PutItem", "UpdateItem", "Query"]),
          ...readTiles,
          { actions: ["sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"], resources: [tiles.arn] },
        ],
      },
      // partialResponses: only the records listed in batchItemFailures are retried.
      {
        batch: { size: 5, partialResponses: true },
        transform: { eventSourceMapping: { scalingConfig: { maximumConcurrency: maxConcurrency } } },
      },
    );

    deadLetter.subscribe(
      {
        handler: "functions/deadletter.handler",
        runtime: RUNTIME,
        architecture,
        timeout: `${DEAD_LETTER_TIMEOUT_S} seconds`,
        memory: "512 MB",
        environment: { ...resultsEnv, ...ledgerEnv },
        // Writes error records (reading the tile's last error); HeadObject (s3:GetObject) checks
        // whether the tile finished after all, and then writes the run's manifest if it is missing
        // with every tile accounted (core/store/run-completion.ts).
        permissions: [writeResults, readResults, writeManifests, listResults, ledgerCalls(["GetItem", "UpdateItem", "Query"])],
      },
      { batch: { size: 10, partialResponses: true } },
    );

    // Where Lambda puts an aggregator event that failed all its attempts (an invocation record with
    // the original S3 event); `npm run replay:aggregator` replays them. 14 days: SQS's maximum.
    const aggregatorFailures = new sst.aws.Queue("AggregatorFailures", {
      transform: { queue: { ...encryptedQueue.queue, messageRetentionSeconds: 14 * 24 * 3600 } },
    });

    // One function for both notifications (it is invoked asynchronously; Lambda retries it twice).
    const aggregator = new sst.aws.Function("Aggregator", {
      handler: "functions/aggregator.handler",
      runtime: RUNTIME,
      architecture,
      // The event that completes a run reads the whole ledger and writes the manifest. Keep this
      // below the manifest lease of core/store/ledger.ts (150 s).
      timeout: "120 seconds",
      memory: "1024 MB",
      environment: { ...resultsEnv, ...ledgerEnv },
      // Reads tile results (and HEADs the manifest), writes only manifests; the ledger calls of core/store/ledger.ts.
      permissions: [
        readResults,
        writeManifests,
        listResults,
        ledgerCalls(["GetItem", "PutItem", "UpdateItem", "Query"]),
        // Lambda sends the on-failure record with the function's role.
        { actions: ["sqs:SendMessage"], resources: [aggregatorFailures.arn] },
      ],
    });

    // Async invocation: the first attempt + 2 retries, then the event goes to AggregatorFailures
    // instead of being dropped. (SST's `retries` would create a second config for the function: unset.)
    new aws.lambda.FunctionEventInvokeConfig("AggregatorInvokeConfig", {
      functionName: aggregator.name,
      maximumRetryAttempts: 2,
      destinationConfig: { onFailure: { destination: aggregatorFailures.arn } },
    });

    // ---- Watched areas (docs/results.md, "Watch"): after each manifest of an area run, the diff
    // against the previous run of the area is written beside it (functions/diff.ts); each area of
    // the watch config (WATCH_CONFIG, default watch.json; absent = no cron) is enqueued weekly, and
    // with `"notify": true` each diff is published to the DiffTopic SNS topic.
    const { existsSync, readFileSync } = await import("node:fs");
    const { basename } = await import("node:path");
    const watchPath = process.env.WATCH_CONFIG ?? "watch.json";
    const watch: { notify?: boolean; areas?: Record<string, string | number>[] } = existsSync(watchPath)
      ? JSON.parse(readFileSync(watchPath, "utf8"))
      : {};
    const diffTopic = watch.notify ? new sst.aws.SnsTopic("DiffTopic") : undefined;
    const diff = new sst.aws.Function("Diff", {
      handler: "functions/diff.handler",
      runtime: RUNTIME,
      timeout: "300 seconds",
      memory: "2048 MB",
      environment: {
        ...resultsEnv,
        ...ledgerEnv,
        ...(diffTopic ? { SST_RESOURCE_DiffTopic: $jsonStringify({ arn: diffTopic.arn }) } : {}),
      },
      // Reads manifests and tile results, writes the diff pair only; finds the previous run by
      // scanning the ledger's run items; publishes to its topic only.
      permissions: [
        { actions: ["s3:GetObject"], resources: [objects("runs/*")] },
        { actions: ["s3:PutObject"], resources: [objects("runs/*/diff.json"), objects("runs/*/diff.geojson")] },
        listResults,
        { actions: ["dynamodb:Scan", "dynamodb:Query", "dynamodb:GetItem"], resources: [ledger.arn] },
        ...(diffTopic ? [{ actions: ["sns:Publish"], resources: [diffTopic.arn] }] : []),
      ],
    });
    for (const area of watch.areas ?? []) {
      const name = String(area.name);
      if (!/^[A-Za-z0-9]+$/.test(name)) throw new Error(`watch area name "${name}" must be letters and digits`);
      const key = `watch/${name}.geojson`;
      // The area travels through the bucket: a Cron event holds only a few KB of strings.
      new aws.s3.BucketObjectv2(`WatchArea${name}`, { bucket: results.name, key, content: readFileSync(String(area.file), "utf8"), contentType: "application/geo+json" });
      const { file: _file, name: _name, ...params } = area;
      new sst.aws.Cron(`Watch${name}`, {
        schedule: String(area.schedule ?? "rate(7 days)"),
        event: {
          area_key: key,
          ...(process.env.TILES_URL ? { tiles_url: process.env.TILES_URL } : {}),
          ...Object.fromEntries(Object.entries(params).filter(([k]) => k !== "schedule").map(([k, v]) => [k, String(v)])),
        },
        function: {
          handler: "functions/watch-cron.handler",
          runtime: RUNTIME,
          timeout: "300 seconds",
          memory: "1024 MB",
          environment: { ...resultsEnv, ...ledgerEnv, SST_RESOURCE_Tiles: $jsonStringify({ url: tiles.url }), SST_RESOURCE_Sources: JSON.stringify(sources) },
          // Pins the dataset's latest release (one HTTP request; no grant), reads its area, records the run in the ledger and sends the tile messages (core/store/queue.ts).
          permissions: [
            { actions: ["s3:GetObject"], resources: [objects(`watch/${basename(key)}`)] },
            listResults,
            { actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"], resources: [ledger.arn] },
            { actions: ["sqs:SendMessage"], resources: [tiles.arn] },
          ],
        },
      });
    }
    // Filters match the keys of core/run/keys.ts (checked by test/sst-config.test.ts).
    results.notify({
      notifications: [
        {
          name: "TileDone",
          function: aggregator.arn,
          events: ["s3:ObjectCreated:*"],
          filterPrefix: "runs/",
          filterSuffix: "/clusters.parquet",
        },
        {
          name: "TileFailed",
          function: aggregator.arn,
          events: ["s3:ObjectCreated:*"],
          filterPrefix: "runs/",
          filterSuffix: "/error.json",
        },
        {
          name: "ManifestWritten",
          function: diff.arn,
          events: ["s3:ObjectCreated:*"],
          filterPrefix: "runs/",
          filterSuffix: "/manifest.json",
        },
      ],
    });

    return {
      bucket: results.name,
      queue: tiles.url,
      deadLetterQueue: deadLetter.url,
      aggregatorFailures: aggregatorFailures.url,
      ledger: ledger.name,
    };
  },
});
