// Tile URL templates (pure, no I/O): `{z}`, `{x}` and `{y}` name the tile. The readers that fetch
// them are in core/store/tile-sources.ts.
import type { TileAddress } from './types.ts';

/** The old public GLAD tiles. */
export const DEFAULT_TILES_URL = 'http://wri-tiles.s3.amazonaws.com/glad_prod/tiles/{z}/{x}/{y}.png';

/** The tiles URL template: env TILES_URL, else the old public one. */
export function defaultTilesUrl(env: Record<string, string | undefined> = process.env): string {
  return env.TILES_URL || DEFAULT_TILES_URL;
}

/** Throws unless the template has each of {z}, {x}, {y} and no other {placeholder}. */
export function validateTemplate(template: string): void {
  if (typeof template !== 'string' || template.trim() === '') throw new Error('tiles URL template is empty');
  for (const p of ['{z}', '{x}', '{y}']) {
    if (!template.includes(p)) throw new Error(`tiles URL template "${template}" lacks ${p}`);
  }
  const unknown = template.match(/\{[^}]*\}/g)?.find((p) => !['{z}', '{x}', '{y}'].includes(p));
  if (unknown) throw new Error(`tiles URL template "${template}" has unknown placeholder ${unknown}`);
}

/** The template with the tile's z/x/y filled in. */
export function fillTemplate(template: string, tile: TileAddress): string {
  return template.replaceAll('{z}', String(tile.z)).replaceAll('{x}', String(tile.x)).replaceAll('{y}', String(tile.y));
}
