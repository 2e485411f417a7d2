// Shapes of the tile layer: tile addresses, decoded alerts, and the decoder and source contracts.

/** A web-mercator tile address: z in 0..22, x and y in 0..2^z-1. */
export interface TileAddress {
  z: number;
  x: number;
  y: number;
}

/**
 * Alerts as struct-of-arrays (hot loops read typed arrays, not objects).
 * col/row are pixel coordinates relative to ONE tile (col along x, row along y); alerts of a
 * halo have col/row outside 0..255.
 */
export interface Alerts {
  length: number;
  col: Int32Array;
  row: Int32Array;
  /** Days since 2015-01-01 (day 1 = 2015-01-02; 0 means no alert). */
  days: Uint16Array;
  confidence: Uint8Array;
}

/** The alerts of a date range: [startDays, endDays) in days since 2015-01-01. */
export interface DayRange {
  startDays: number;
  endDays: number;
}

/** A rectangle of a tile's pixels, bounds inclusive (0..255): the part of a neighbour a halo takes. */
export interface PixelWindow {
  col0: number;
  col1: number;
  row0: number;
  row1: number;
}

/** Turns one encoded tile image into its alerts (pluggable: other alert encodings can be added). */
export interface AlertDecoder {
  /**
   * `window`: the alerts in it only (default: the whole tile). A PNG is then inflated down to the
   * window's last row only, and only the window's pixels are looked at.
   */
  decode(image: Uint8Array, range: DayRange, tile: TileAddress, window?: PixelWindow): Alerts;
}

/** Narrow I/O adapter: the raw bytes of a tile, or null when the tile does not exist (no alerts). */
export interface TileSource {
  read(tile: TileAddress): Promise<Uint8Array | null>;
}

/**
 * The alerts of one tile (col/row 0..255, within `range`), or null when there is no data there: what
 * a tile job reads when alerts do not come as encoded images (date_conf rasters,
 * core/store/raster-source.ts). A PNG source is a TileSource plus its dataset's AlertDecoder.
 */
export interface AlertSource {
  alerts(tile: TileAddress, range: DayRange): Promise<Alerts | null>;
}
