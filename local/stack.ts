// The local stack's resources: the results bucket, the tile queue with its dead-letter queue
// (redrive after 3 receives, as in sst.config.ts) and the ledger table — plus the environment
// that points the unchanged Lambda handlers and the SDK at them.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { LEDGER_TABLE_DEFINITION } from '../core/store/ledger.ts';
import { TILE_MAX_RECEIVES } from '../core/run/messages.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type Emulators } from './emulators.ts';

export const MAX_RECEIVE_COUNT = TILE_MAX_RECEIVES;

export interface StackNames {
  bucket: string;
  queue: string;
  deadLetterQueue: string;
  table: string;
}

export const DEFAULT_NAMES: StackNames = {
  bucket: 'glad-results',
  queue: 'glad-tiles',
  deadLetterQueue: 'glad-tiles-dlq',
  table: 'glad-ledger',
};

/** Everything a process needs to reach a running local stack (also what `.local/stack.json` holds). */
export interface StackInfo {
  endpoints: { s3: string; sqs: string; dynamodb: string };
  names: StackNames;
  queueUrl: string;
  deadLetterQueueUrl: string;
  /** Seconds a received message stays invisible before a retry. */
  visibilityTimeout: number;
}

/** fauxqs answers with `sqs.<region>.localhost` URLs, which do not resolve; the path-style URL does. */
export function queueUrl(sqsEndpoint: string, name: string): string {
  return `${sqsEndpoint}/000000000000/${name}`;
}

const clientConfig = (endpoint: string) => ({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS });

/** Creates (idempotently) the bucket, both queues and the table on running emulators. */
export async function createStack(
  emulators: Pick<Emulators, 'endpoints'>,
  options: { names?: StackNames; visibilityTimeout?: number } = {},
): Promise<StackInfo> {
  const names = options.names ?? DEFAULT_NAMES;
  const visibilityTimeout = options.visibilityTimeout ?? 30;
  const { endpoints } = emulators;

  // An IP endpoint makes the SDK use path-style URLs (no bucket subdomains needed).
  const s3 = new S3Client(clientConfig(endpoints.s3));
  await s3.send(new CreateBucketCommand({ Bucket: names.bucket })).catch((error: Error) => {
    if (error.name !== 'BucketAlreadyOwnedByYou' && error.name !== 'BucketAlreadyExists') throw error;
  });
  s3.destroy();

  const sqs = new SQSClient(clientConfig(endpoints.sqs));
  await sqs.send(new CreateQueueCommand({ QueueName: names.deadLetterQueue }));
  const deadLetterQueueUrl = queueUrl(endpoints.sqs, names.deadLetterQueue);
  const dlqAttributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sqs.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        VisibilityTimeout: String(visibilityTimeout),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqAttributes.Attributes?.QueueArn,
          maxReceiveCount: String(MAX_RECEIVE_COUNT),
        }),
      },
    }),
  );
  sqs.destroy();

  const dynamo = new DynamoDBClient(clientConfig(endpoints.dynamodb));
  try {
    await dynamo.send(new DescribeTableCommand({ TableName: names.table }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    await dynamo.send(
      new CreateTableCommand({
        TableName: names.table,
        KeySchema: [...LEDGER_TABLE_DEFINITION.KeySchema],
        AttributeDefinitions: [...LEDGER_TABLE_DEFINITION.AttributeDefinitions],
        BillingMode: LEDGER_TABLE_DEFINITION.BillingMode,
      }),
    );
  }
  // A CREATING table answers "Requested resource not found" to reads and writes (dynalite as
  // DynamoDB): the first `npm start` in a fresh folder raced it. Wait until it is ACTIVE.
  for (let waited = 0; ; waited += 20) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: names.table }));
    if (Table?.TableStatus === 'ACTIVE') break;
    if (waited > 30_000) throw new Error(`the ledger table ${names.table} is still ${Table?.TableStatus} after 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  dynamo.destroy();

  return { endpoints, names, queueUrl: queueUrl(endpoints.sqs, names.queue), deadLetterQueueUrl, visibilityTimeout };
}

/**
 * The environment under which the handlers and the SDK find the local stack: standard endpoint
 * variables and SST's `SST_RESOURCE_<Name>` links — exactly what they read on Lambda.
 */
export function stackEnv(stack: StackInfo): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: stack.endpoints.s3,
    AWS_ENDPOINT_URL_SQS: stack.endpoints.sqs,
    AWS_ENDPOINT_URL_DYNAMODB: stack.endpoints.dynamodb,
    SST_RESOURCE_Results: JSON.stringify({ name: stack.names.bucket }),
    SST_RESOURCE_Tiles: JSON.stringify({ url: stack.queueUrl }),
    SST_RESOURCE_DeadLetter: JSON.stringify({ url: stack.deadLetterQueueUrl }),
    SST_RESOURCE_Ledger: JSON.stringify({ name: stack.names.table }),
  };
}

/** Sets the stack's environment on this process (workers inherit process.env by default). */
export function applyStackEnv(stack: StackInfo): void {
  Object.assign(process.env, stackEnv(stack));
}
