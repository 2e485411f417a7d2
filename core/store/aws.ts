// AWS clients and linked resource names, in one place. Clients use plain SDK configuration, so the
// standard AWS_ENDPOINT_URL_S3 / _SQS / _DYNAMODB variables point them at local emulators, and
// resource names come from SST's `Resource` (env vars SST_RESOURCE_<Name>, JSON): Lambda gets them
// by linking, `sst shell` sets them for scripts, and the local loop sets the same variables. So the
// handlers have no local special case.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Resource } from 'sst';
import { Ledger } from './ledger.ts';
import { metered } from './meter.ts';
import type { AllowedSources } from './run-sources.ts';

/** The linked resources as this project uses them (SST types them only after `sst install`). */
interface LinkedResources {
  Results: { name: string };
  Tiles: { url: string };
  DeadLetter: { url: string };
  Ledger: { name: string };
  AggregatorFailures: { url: string };
}

/** One linked resource; throws a one-line error naming the missing SST_RESOURCE_ variable. */
function linked<K extends keyof LinkedResources>(name: K): LinkedResources[K] {
  try {
    const value = (Resource as unknown as LinkedResources)[name];
    if (value) return value;
  } catch {
    // SST's message is long; ours names the variable to set.
  }
  throw new Error(`resource ${name} is not linked: run under \`sst shell\`/Lambda or set SST_RESOURCE_${name}`);
}

/**
 * The sources a deployed stack may read (resource `Sources` of sst.config.ts, set for Lambda and
 * under `sst shell`), or null outside a deployed stack (the local loop reads anything).
 */
export function allowedSources(env: Record<string, string | undefined> = process.env): AllowedSources | null {
  const raw = env.SST_RESOURCE_Sources;
  if (!raw) return null;
  let value: Partial<AllowedSources>;
  try {
    value = JSON.parse(raw) as Partial<AllowedSources>;
  } catch {
    throw new Error('SST_RESOURCE_Sources is not JSON');
  }
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  return { tileBuckets: list(value.tileBuckets), rasterBuckets: list(value.rasterBuckets), hosts: list(value.hosts), datasets: list(value.datasets) };
}

/** Name of the results bucket. */
export function resultsBucket(): string {
  return linked('Results').name;
}

/** URL of the tile queue. */
export function tilesQueueUrl(): string {
  return linked('Tiles').url;
}

/** URL of the dead-letter queue. */
export function deadLetterQueueUrl(): string {
  return linked('DeadLetter').url;
}

/** URL of the queue receiving the aggregator's failed events (Lambda's on-failure destination). */
export function aggregatorFailuresQueueUrl(): string {
  return linked('AggregatorFailures').url;
}

/** Name of the ledger table. */
function ledgerTable(): string {
  return linked('Ledger').name;
}

/** S3 client (its requests counted by core/store/meter.ts); path-style addressing so an emulator on 127.0.0.1 works (harmless on AWS). */
export function s3Client(): S3Client {
  return metered(new S3Client({ forcePathStyle: true }), 's3');
}

export function sqsClient(): SQSClient {
  return metered(new SQSClient({}), 'sqs');
}

/** DynamoDB document client (plain JS values, undefined attributes dropped). */
function dynamoDocClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(metered(new DynamoDBClient({}), 'dynamodb'), { marshallOptions: { removeUndefinedValues: true } });
}

/** The ledger of the linked table, through a fresh document client. */
export function ledgerFromEnv(): Ledger {
  return new Ledger(dynamoDocClient(), ledgerTable());
}
