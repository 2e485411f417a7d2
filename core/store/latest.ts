// Resolving a tiles address's `latest` to the dated version it redirects to, once per run, so the
// run is pinned to one data release (the version goes into the run id and the manifest).
import { pinTemplate } from '../tiles/datasets.ts';
import { fillTemplate, validateTemplate } from '../tiles/tile-url.ts';
import { DEFAULT_HTTP_TIMEOUT_MS } from './tile-sources.ts';

/** Any tile will do: GFW redirects `latest` before looking at z/x/y. */
const PROBE_TILE = { z: 0, x: 0, y: 0 };

/**
 * The template with `latest` replaced by the version its redirect names, and that version; an
 * address without `/latest/` is returned as it is (version null). Reads only the redirect (it does
 * not follow it), so it costs one request.
 */
export async function resolveLatest(template: string, timeoutMs = DEFAULT_HTTP_TIMEOUT_MS): Promise<{ template: string; version: string | null }> {
  validateTemplate(template);
  if (!template.includes('/latest/')) return { template, version: null };
  if (!/^https?:\/\//i.test(template)) throw new Error(`tiles URL template "${template}": only http(s) addresses can resolve "latest"`);
  const url = fillTemplate(template, PROBE_TILE);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new Error(`resolving "latest": GET ${url} failed: ${(err as Error).message}`);
  }
  await res.body?.cancel();
  const location = res.headers.get('location');
  if (res.status < 300 || res.status > 399 || !location) {
    throw new Error(`resolving "latest": GET ${url} answered HTTP ${res.status}, not a redirect to a dated version`);
  }
  return pinTemplate(template, location);
}
