// Just enough of Lambda's invocation contract to call the handlers of functions/ locally.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import { meter } from '../core/store/meter.ts';

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

/** The handler modules, exactly as deployed by sst.config.ts. */
export const HANDLERS = {
  consumer: fileURLToPath(new URL('../functions/consumer.ts', import.meta.url)),
  aggregator: fileURLToPath(new URL('../functions/aggregator.ts', import.meta.url)),
  deadletter: fileURLToPath(new URL('../functions/deadletter.ts', import.meta.url)),
  diff: fileURLToPath(new URL('../functions/diff.ts', import.meta.url)),
} as const;

export async function loadHandler(path: string): Promise<LambdaHandler> {
  const module = (await import(path)) as { handler?: LambdaHandler };
  if (typeof module.handler !== 'function') throw new Error(`${path} exports no handler`);
  return module.handler;
}

/**
 * Calls a handler as Lambda would invoke it, counted by the meter (core/store/meter.ts): one
 * invocation of `name` billed its wall time (rounded up to the ms), and its AWS requests counted as `name`'s.
 */
export async function invoke(name: string, handler: LambdaHandler, event: unknown, context: Context = lambdaContext(name)): Promise<unknown> {
  const started = performance.now();
  try {
    return await meter.as(name, () => handler(event, context));
  } finally {
    meter.invocation(name, performance.now() - started);
  }
}

/** A Lambda context with a fresh request id and a 15-minute budget. */
export function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 15 * 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1769',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
