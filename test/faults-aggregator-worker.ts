// One aggregator "Lambda instance" in a worker thread (test/fault-tools.ts startAggregatorPool):
// the real functions/aggregator.ts handler with its own SDK clients, configured from the env the
// thread inherited (the local stack's AWS_ENDPOINT_URL_* and SST_RESOURCE_*). Invocations may overlap.
import { parentPort } from 'node:worker_threads';
import { handler } from '../functions/aggregator.ts';

const port = parentPort!;
port.on('message', async ({ id, event }: { id: number; event: unknown }) => {
  try {
    await handler(event);
    port.postMessage({ id, ok: true });
  } catch (error) {
    port.postMessage({ id, ok: false, error: (error as Error).message });
  }
});
