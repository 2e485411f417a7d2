// Counts every AWS request this process (or thread) makes, where it is made: an SDK middleware on
// each client (added by core/store/aws.ts to the clients it makes; `metered(client)` for any other),
// plus the Lambda invocations and billed milliseconds the local loop reports per handler. Requests
// are grouped by "actor" — who made them: a handler (consumer, aggregator, deadletter, diff), the
// SQS event source (receives and deletes Lambda's poller makes on AWS), enqueue, or `other` (e.g. a
// script watching progress) — taken from an AsyncLocalStorage scope (`meter.as(actor, fn)`).
//
// DynamoDB capacity: every DynamoDB request asks for `ReturnConsumedCapacity: TOTAL` and the
// counter adds the `ConsumedCapacity` of the answer (DynamoDB and dynalite both return it, computed
// from the item sizes). Only a conditional write that fails (ConditionalCheckFailedException) has
// no answer to read: it is counted as 1 WRU, DynamoDB's minimum for a write (see `FAILED_WRITE_WRU`).
//
// Worker threads have their own meter: `meter.take()` returns and resets a thread's counts, which the
// thread posts to the main thread, where `meter.add(usage)` merges them.
import { AsyncLocalStorage } from 'node:async_hooks';

/** Counts of one actor. */
export interface Usage {
  /** Requests by `service:Operation`, e.g. `s3:PutObject`; `sqs:ReceiveMessage(empty)` for a receive that got nothing. */
  requests: Record<string, number>;
  /** DynamoDB read and write request units (on-demand), from ConsumedCapacity. */
  rru: number;
  wru: number;
  /** SQS messages sent (entries of SendMessage/SendMessageBatch). */
  messages_sent: number;
  /** Lambda invocations and billed milliseconds (each invocation rounded up to 1 ms), by handler. */
  lambda: Record<string, { invocations: number; billed_ms: number }>;
}

/** Usage by actor. */
export type UsageByActor = Record<string, Usage>;

/** A failed conditional write consumes capacity but returns no ConsumedCapacity: 1 WRU (the minimum, items ≤ 1 KB). */
export const FAILED_WRITE_WRU = 1;

const DEFAULT_ACTOR = 'other';
const scope = new AsyncLocalStorage<string>();

export function emptyUsage(): Usage {
  return { requests: {}, rru: 0, wru: 0, messages_sent: 0, lambda: {} };
}

function addInto(target: Usage, u: Usage): void {
  for (const [op, n] of Object.entries(u.requests)) target.requests[op] = (target.requests[op] ?? 0) + n;
  target.rru += u.rru;
  target.wru += u.wru;
  target.messages_sent += u.messages_sent;
  for (const [name, l] of Object.entries(u.lambda)) {
    const t = (target.lambda[name] ??= { invocations: 0, billed_ms: 0 });
    t.invocations += l.invocations;
    t.billed_ms += l.billed_ms;
  }
}

/** Sum of several actors' usage (e.g. everything a run paid for). */
export function sumUsage(byActor: UsageByActor, actors?: readonly string[]): Usage {
  const total = emptyUsage();
  for (const [actor, u] of Object.entries(byActor)) if (!actors || actors.includes(actor)) addInto(total, u);
  return total;
}

/** b − a, actor by actor (a snapshot taken before, b after). */
export function usageSince(before: UsageByActor, after: UsageByActor): UsageByActor {
  const out: UsageByActor = {};
  for (const [actor, b] of Object.entries(after)) {
    const a = before[actor] ?? emptyUsage();
    const d = emptyUsage();
    for (const [op, n] of Object.entries(b.requests)) if (n - (a.requests[op] ?? 0)) d.requests[op] = n - (a.requests[op] ?? 0);
    d.rru = b.rru - a.rru;
    d.wru = b.wru - a.wru;
    d.messages_sent = b.messages_sent - a.messages_sent;
    for (const [name, l] of Object.entries(b.lambda)) {
      const la = a.lambda[name] ?? { invocations: 0, billed_ms: 0 };
      if (l.invocations - la.invocations) d.lambda[name] = { invocations: l.invocations - la.invocations, billed_ms: l.billed_ms - la.billed_ms };
    }
    out[actor] = d;
  }
  return out;
}

class Meter {
  private counts: UsageByActor = {};

  private of(actor: string): Usage {
    return (this.counts[actor] ??= emptyUsage());
  }

  /** The actor whose requests are being made now. */
  actor(): string {
    return scope.getStore() ?? DEFAULT_ACTOR;
  }

  /** Runs `fn` with its requests counted as `actor`'s. */
  as<T>(actor: string, fn: () => T): T {
    return scope.run(actor, fn);
  }

  request(service: string, operation: string, units?: { rru?: number; wru?: number; sent?: number }, actor = this.actor()): void {
    const u = this.of(actor);
    const op = `${service}:${operation}`;
    u.requests[op] = (u.requests[op] ?? 0) + 1;
    u.rru += units?.rru ?? 0;
    u.wru += units?.wru ?? 0;
    u.messages_sent += units?.sent ?? 0;
  }

  /** One Lambda invocation of `handler` that ran `ms` (billed rounded up to the millisecond). */
  invocation(handler: string, ms: number, actor = handler): void {
    const l = (this.of(actor).lambda[handler] ??= { invocations: 0, billed_ms: 0 });
    l.invocations++;
    l.billed_ms += Math.max(1, Math.ceil(ms));
  }

  /** A copy of the counts so far. */
  snapshot(): UsageByActor {
    return structuredClone(this.counts);
  }

  /** The counts so far, reset (a worker thread posts them to the main thread). */
  take(): UsageByActor {
    const out = this.counts;
    this.counts = {};
    return out;
  }

  /** Merges counts taken in another thread. */
  add(byActor: UsageByActor): void {
    for (const [actor, u] of Object.entries(byActor)) addInto(this.of(actor), u);
  }
}

/** This thread's meter. */
export const meter = new Meter();

// ------------------------------------------------------------------ the SDK middleware

/** What a client must have for the middleware (every SDK v3 client; a test's stand-in may not). */
interface WithMiddleware {
  middlewareStack?: { add(mw: unknown, options: { step: string; name: string; priority?: string; override?: boolean }): void };
  config?: { serviceId?: string };
}

const DYNAMO_READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
const isConditionFailure = (error: unknown) => (error as { name?: string })?.name === 'ConditionalCheckFailedException';

function capacityOf(output: unknown): number {
  const c = (output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] })?.ConsumedCapacity;
  if (!c) return 0;
  return (Array.isArray(c) ? c : [c]).reduce((sum, x) => sum + (x.CapacityUnits ?? 0), 0);
}

/**
 * Adds the counting middleware to an SDK client (once), and returns it. `service` is `s3`, `sqs`
 * or `dynamodb`. DynamoDB requests get `ReturnConsumedCapacity: TOTAL` (unless the caller set one).
 */
export function metered<C>(client: C, service: 's3' | 'sqs' | 'dynamodb'): C {
  const stack = (client as WithMiddleware).middlewareStack;
  if (!stack) return client;
  if (service === 'dynamodb') {
    stack.add(
      (next: (args: { input: Record<string, unknown> }) => Promise<unknown>) => async (args: { input: Record<string, unknown> }) => {
        if (args.input.ReturnConsumedCapacity === undefined) args.input = { ...args.input, ReturnConsumedCapacity: 'TOTAL' };
        return next(args);
      },
      { step: 'initialize', name: 'gladMeterCapacity', override: true },
    );
  }
  stack.add(
    (next: (args: { input: Record<string, unknown> }) => Promise<{ output: unknown }>, context: { commandName?: string }) =>
      async (args: { input: Record<string, unknown> }) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const actor = meter.actor();
        try {
          const result = await next(args);
          if (service === 'dynamodb') {
            const units = capacityOf(result.output);
            meter.request(service, operation, DYNAMO_READS.has(operation) ? { rru: units } : { wru: units }, actor);
          } else if (service === 'sqs' && operation === 'ReceiveMessage') {
            const got = ((result.output as { Messages?: unknown[] })?.Messages ?? []).length;
            meter.request(service, got > 0 ? operation : `${operation}(empty)`, undefined, actor);
          } else if (service === 'sqs' && operation.startsWith('SendMessage')) {
            const entries = (args.input.Entries as unknown[] | undefined)?.length ?? 1;
            meter.request(service, operation, { sent: entries }, actor);
          } else {
            meter.request(service, operation, undefined, actor);
          }
          return result;
        } catch (error) {
          // A request that reached the service and was refused is still a request (S3 bills a 404 GET too).
          if (service === 'dynamodb' && isConditionFailure(error)) meter.request(service, operation, { wru: FAILED_WRITE_WRU }, actor);
          else meter.request(service, `${operation}(error)`, undefined, actor);
          throw error;
        }
      },
    // Inside the SDK's retry loop (finalizeRequest, after retryMiddleware): every attempt is counted, as AWS bills it.
    { step: 'finalizeRequest', priority: 'low', name: 'gladMeter', override: true },
  );
  return client;
}
