// AWS list prices (us-east-1), in one place, and the cost of counted usage (core/store/meter.ts).
//
// PRICES_AS_OF: the prices below as known on that date, from AWS's public pricing pages as of
// late 2024 (not re-checked online: this sandbox has no access to them). DynamoDB on-demand is the
// price after AWS's cut of 1 November 2024 ($0.625 per M WRU, was $1.25; $0.125 per M RRU, was
// $0.25). Check https://aws.amazon.com/{lambda,sqs,s3,dynamodb}/pricing/ before relying on them.
import type { Usage } from './meter.ts';

export const PRICES_AS_OF = '2024-11-01';

export const PRICES = {
  /** Lambda x86_64, per GB-second and per request. */
  lambda_gb_s: 0.0000166667,
  lambda_request: 0.2 / 1e6,
  /** SQS standard queue, per request (each 64 KB chunk of a payload is one request). */
  sqs_request: 0.4 / 1e6,
  /** S3 Standard: PUT, COPY, POST, LIST per request; GET, HEAD and other reads per request. */
  s3_put: 0.005 / 1000,
  s3_get: 0.0004 / 1000,
  /** DynamoDB on-demand, per write / read request unit. */
  dynamodb_wru: 0.625 / 1e6,
  dynamodb_rru: 0.125 / 1e6,
} as const;

export type Prices = { -readonly [K in keyof typeof PRICES]: number };

/** Lambda memory per handler, MB (sst.config.ts). */
export const LAMBDA_MEMORY_MB: Record<string, number> = { consumer: 1024, aggregator: 1024, deadletter: 512, diff: 2048 };

/** S3 operations billed at the PUT price (S3's "PUT, COPY, POST, LIST requests"); DeleteObject is free. */
const S3_PUT_CLASS = /^s3:(PutObject|CopyObject|CreateMultipartUpload|UploadPart|CompleteMultipartUpload|ListObjects|ListObjectsV2|ListBuckets)(\(error\))?$/;
const FREE = /^s3:(DeleteObject|DeleteObjects|AbortMultipartUpload)(\(error\))?$/;

export interface Cost {
  lambda: number;
  sqs: number;
  s3_put: number;
  s3_get: number;
  dynamodb: number;
  total: number;
}

/**
 * The cost of `usage` at `prices`. `lambdaSpeed` scales the measured billed time (1 = Lambda runs
 * as fast as the machine that measured it; a 1,024 MB Lambda has ~0.58 vCPU, so CPU-bound work may
 * take up to ~1.7× as long there).
 */
export function costOf(usage: Usage, prices: Prices = PRICES, lambdaSpeed = 1): Cost {
  let lambda = 0;
  for (const [handler, l] of Object.entries(usage.lambda)) {
    const gb = (LAMBDA_MEMORY_MB[handler] ?? 1024) / 1024;
    lambda += l.invocations * prices.lambda_request + (l.billed_ms / 1000) * lambdaSpeed * gb * prices.lambda_gb_s;
  }
  let sqs = 0;
  let s3Put = 0;
  let s3Get = 0;
  for (const [op, n] of Object.entries(usage.requests)) {
    if (op.startsWith('sqs:')) sqs += n * prices.sqs_request;
    else if (op.startsWith('s3:') && !FREE.test(op)) {
      if (S3_PUT_CLASS.test(op)) s3Put += n * prices.s3_put;
      else s3Get += n * prices.s3_get;
    }
  }
  const dynamodb = usage.wru * prices.dynamodb_wru + usage.rru * prices.dynamodb_rru;
  return { lambda, sqs, s3_put: s3Put, s3_get: s3Get, dynamodb, total: lambda + sqs + s3Put + s3Get + dynamodb };
}
