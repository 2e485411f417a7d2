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
    // Tile source template used by `npm run enqueue` under `sst shell` (it goes into each message).
    // An s3:// template needs read access for the consumer; an http(s) one needs nothing.
    const tilesUrl = process.env.TILES_URL ?? "";
    const tilesBucket = /^s3:\/\/([^/]+)\//.exec(tilesUrl)?.[1];
    // Reading the tiles: GetObject, and ListBucket so that a missing tile (no alerts) is a 404.
    const readTiles = tilesBucket
      ? [
          { actions: ["s3:GetObject"], resources: [`arn:aws:s3:::${tilesBucket}/*`] },
          { actions: ["s3:ListBucket"], resources: [`arn:aws:s3:::${tilesBucket}`] },
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
        environment: resultsEnv,
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
    const ledgerEnv = { SST_RESOURCE_Ledger: $jsonStringify({ name: ledger.name }) };
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
          tiles_url: tilesUrl,
          ...Object.fromEntries(Object.entries(params).filter(([k]) => k !== "schedule").map(([k, v]) => [k, String(v)])),
        },
        function: {
          handler: "functions/watch-cron.handler",
          runtime: RUNTIME,
          timeout: "300 seconds",
          memory: "1024 MB",
          environment: { ...resultsEnv, ...ledgerEnv, SST_RESOURCE_Tiles: $jsonStringify({ url: tiles.url }) },
          // Reads its area, records the run in the ledger and sends the tile messages (core/store/queue.ts).
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
