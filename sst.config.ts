/// <reference path="./.sst/platform/config.d.ts" />
// glad-clusters on AWS (SST v3): results bucket, tile queue + dead-letter queue, ledger table and the
// three Lambda handlers. Deploy: `npx sst deploy --stage NAME`; remove: `npx sst remove --stage NAME`.
// Every function is linked only to what it uses (linking grants the IAM access and sets the
// SST_RESOURCE_<Name> variables that core/aws.ts reads).

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

    // Private by default (SST blocks public access); S3 encrypts every object at rest (SSE-S3) by default.
    const results = new sst.aws.Bucket("Results");

    const ledger = new sst.aws.Dynamo("Ledger", {
      fields: { pk: "string", sk: "string" },
      primaryIndex: { hashKey: "pk", rangeKey: "sk" },
    });

    const deadLetter = new sst.aws.Queue("DeadLetter");
    const tiles = new sst.aws.Queue("Tiles", {
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
        link: [results],
        permissions: tilesBucket
          ? [{ actions: ["s3:GetObject"], resources: [`arn:aws:s3:::${tilesBucket}/*`] }]
          : [],
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
        link: [results],
      },
      { batch: { size: 10, partialResponses: true } },
    );

    // One function for both notifications (it is invoked asynchronously; Lambda retries it twice).
    const aggregator = new sst.aws.Function("Aggregator", {
      handler: "functions/aggregator.handler",
      runtime: RUNTIME,
      // The event that completes a run reads the whole ledger and writes the manifest. Keep this
      // below the manifest lease of core/ledger.ts (150 s).
      timeout: "120 seconds",
      memory: "1024 MB",
      link: [results, ledger],
    });

    // Filters match the keys of core/keys.ts (checked by test/sst-config.test.ts).
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
      ledger: ledger.name,
    };
  },
});
