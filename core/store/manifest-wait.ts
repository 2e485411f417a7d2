// Waiting for a run to finish: the ledger's progress, polled until the manifest key is set.
import type { Ledger, Progress } from './ledger.ts';

interface WaitOptions {
  /** Give up after this long (default: never). */
  timeoutMs?: number;
  pollMs?: number;
  /** Every progress read (a progress bar, a log line). */
  onProgress?: (progress: Progress) => void;
  /** The message of the error thrown at the deadline (default: the tiles done so far). */
  timeoutMessage?: (progress: Progress | null) => string;
  /**
   * Called when every tile is accounted but no manifest is recorded: writes it if the writer died
   * (e.g. `() => completeRun(deps, runId)` of core/store/run-completion.ts; a live lease is waited out).
   */
  complete?: () => Promise<unknown>;
}

/** Resolves with the run's final progress once its manifest is written. */
export async function waitForManifest(ledger: Pick<Ledger, 'progress'>, runId: string, options: WaitOptions = {}): Promise<Progress> {
  const { timeoutMs = Infinity, pollMs = 250 } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const progress = await ledger.progress(runId);
    if (progress) options.onProgress?.(progress);
    if (progress?.manifest_key) return progress;
    if (progress && options.complete && progress.finished >= progress.tiles) {
      await options.complete();
      const after = await ledger.progress(runId);
      if (after?.manifest_key) return after;
    }
    if (performance.now() > deadline) {
      const done = progress ? `${progress.finished} of ${progress.tiles} tiles done` : 'not in the ledger';
      throw new Error(options.timeoutMessage?.(progress) ?? `run ${runId} not finished after ${Math.round(timeoutMs / 1000)} s (${done})`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
