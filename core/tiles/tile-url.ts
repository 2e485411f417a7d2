// Tile URL templates (pure, no I/O): `{z}`, `{x}` and `{y}` name the tile. The readers that fetch
// them are in core/store/tile-sources.ts.
import type { TileAddress } from './types.ts';

/** The old public GLAD tiles (dataset glad-2018). */
export const DEFAULT_TILES_URL = 'http://wri-tiles.s3.amazonaws.com/glad_prod/tiles/{z}/{x}/{y}.png';

/**
 * The tiles URL template of a run that names none: env TILES_URL (a mirror, a bucket, files: read
 * in the dataset's encoding), else `datasetUrl`, the dataset's own address.
 */
export function defaultTilesUrl(env: Record<string, string | undefined> = process.env, datasetUrl: string = DEFAULT_TILES_URL): string {
  return env.TILES_URL || datasetUrl;
}

/** Throws unless the template has each of {z}, {x}, {y} and no other {placeholder}. */
function checkPlaceholders(template: string): void {
  for (const p of ['{z}', '{x}', '{y}']) {
    if (!template.includes(p)) throw new Error(`tiles URL template "${template}" lacks ${p}`);
  }
  const unknown = template.match(/\{[^}]*\}/g)?.find((p) => !['{z}', '{x}', '{y}'].includes(p));
  if (unknown) throw new Error(`tiles URL template "${template}" has unknown placeholder ${unknown}`);
}

export interface TemplateRules {
  /**
   * Whether an http(s) template may carry a query (after the placeholders, never holding them):
   * true for the tile sources (GFW's DIST address takes `?start_date=`), the dataset's own need
   * for a run (core/run/params.ts). file:, s3: and paths never take one.
   */
  query?: boolean;
}

/**
 * Throws unless the template names one tile per z/x/y: each of {z}, {x}, {y} once or more, no
 * other placeholder, all of them in the PATH (checked after parsing, so `file:///etc/passwd#{z}/{x}/{y}`
 * or `https://h/t.png?{z}{x}{y}` — one fixed file for every tile — are refused), no fragment, and a
 * query only on http(s) when `rules.query` allows it.
 */
export function validateTemplate(template: string, rules: TemplateRules = { query: true }): void {
  if (typeof template !== 'string' || template.trim() === '') throw new Error('tiles URL template is empty');
  checkPlaceholders(template);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(template)?.[1].toLowerCase();
  const hash = template.indexOf('#');
  if (hash >= 0) throw new Error(`tiles URL template "${template}" has a fragment (#…): a tile address has none`);
  const question = template.indexOf('?');
  if (question >= 0) {
    const http = scheme === 'http' || scheme === 'https';
    if (!http || !rules.query) {
      throw new Error(`tiles URL template "${template}" has a query (?…): ${http ? "this dataset's address takes none" : 'only an http(s) address may have one'}`);
    }
    if (/\{[zxy]\}/.test(template.slice(question))) {
      throw new Error(`tiles URL template "${template}": {z}, {x} and {y} must be in the path, not the query`);
    }
  }
  // The path proper (after scheme://authority): where the placeholders must be.
  const path = scheme ? template.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '') : template;
  for (const p of ['{z}', '{x}', '{y}']) {
    if (!path.split('?')[0].includes(p)) throw new Error(`tiles URL template "${template}": ${p} must be in the path`);
  }
}

/** The template with the tile's z/x/y filled in. */
export function fillTemplate(template: string, tile: TileAddress): string {
  return template.replaceAll('{z}', String(tile.z)).replaceAll('{x}', String(tile.x)).replaceAll('{y}', String(tile.y));
}
