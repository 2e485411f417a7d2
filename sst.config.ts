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
    // (403 otherwise, which the handlers would take for a real failure).
    const listResults = { actions: ["s3:ListBucket"], resources: [results.arn] };
    // Tile results and error records, records of bad messages (core/run/keys.ts) — not manifests.
    const writeResults = {
      actions: ["s3:PutObject"],
      resources: [objects("runs/*/tiles/*"), objects("runs/*/messages/*"), objects("errors/unroutable/*")],
    };

    const ledger = new sst.aws.Dynamo("Ledger", {
      fields: { pk: "string", sk: "string" },
      primaryIndex: { hashKey: "pk", rangeKey: "sk" },
    });

    // SQS-managed encryption at rest (the AWS default for new queues), stated explicitly.
    const encryptedQueue = { queue: { sqsManagedSseEnabled: true } };
    const deadLetter = new sst.aws.Queue("DeadLetter", { transform: encryptedQueue });
    const tiles = new sst.aws.Queue("Tiles", {
      transform: encryptedQueue,
      // AWS advises ≥ 6× the consumer timeout, so a batch retried by Lambda is not redelivered early.
      visibilityTimeout: "12 minutes",
      // A tile message that fails 3 receives goes to the dead-letter queue.
      dlq: { queue: deadLetter.arn, retry: 3 },
    });

    tiles.subscribe(
      {
        handler: "functions/consumer.handler",
        runtime: RUNTIME,
        timeout: "120 seconds",
        memory: "1024 MB",
        environment: { ...resultsEnv, SST_RESOURCE_Sources: JSON.stringify(sources) },
        // Writes results and error records; reads nothing of the results bucket.
        permissions: [writeResults, ...readTiles],
      },
      // partialResponses: only the records listed in batchItemFailures are retried.
      { batch: { size: 5, partialResponses: true } },
    );

    deadLetter.subscribe(
      {
        handler: "functions/deadletter.handler",
        runtime: RUNTIME,
        timeout: "30 seconds",
        memory: "512 MB",
        environment: resultsEnv,
        // Writes error records; HeadObject (s3:GetObject) checks whether the tile finished after all.
        permissions: [writeResults, { actions: ["s3:GetObject"], resources: [objects("runs/*")] }, listResults],
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
      // The event that completes a run reads the whole ledger and writes the manifest. Keep this
      // below the manifest lease of core/store/ledger.ts (150 s).
      timeout: "120 seconds",
      memory: "1024 MB",
      environment: { ...resultsEnv, SST_RESOURCE_Ledger: $jsonStringify({ name: ledger.name }) },
      // Reads result objects, writes only manifests; the ledger calls of core/store/ledger.ts.
      permissions: [
        { actions: ["s3:GetObject"], resources: [objects("runs/*")] },
        { actions: ["s3:PutObject"], resources: [objects("runs/*/manifest.json")] },
        listResults,
        { actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"], resources: [ledger.arn] },
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
