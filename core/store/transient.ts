// Transient or permanent? The consumer retries a transient failure (the record goes back to SQS
// through batchItemFailures) and records a permanent one as the tile's error.json.

/** AWS error names that mean "try again later". */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailable',
  'InternalError',
  'InternalServerError',
  'TimeoutError',
  'AbortError',
]);

/** Node/undici network error codes. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * True when retrying later may succeed: throttling, timeouts, network failures, HTTP 429/5xx
 * (AWS SDK errors carry `$metadata.httpStatusCode` / `$retryable`; tile sources set `transient`).
 * Anything else (a corrupt image, a bad request, a bug) is permanent.
 */
export function isTransient(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const e = error as {
    name?: string;
    code?: string;
    transient?: boolean;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    cause?: unknown;
  };
  if (typeof e.transient === 'boolean') return e.transient;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status === 429 || status >= 500)) return true;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.code && TRANSIENT_CODES.has(e.code)) return true;
  return e.cause !== undefined && e.cause !== error ? isTransient(e.cause) : false;
}
