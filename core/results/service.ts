// ClusterService and ClusterViewer: the old notebook's two classes, on the pipeline's modules.
//
//   const service = new ClusterService({ tileBounds: [x0, y0, x1, y1], z: 12, start_date, end_date });
//   service.requestSize();              // tiles of the run
//   await service.run({ onProgress });  // enqueue, wait for the manifest, fetch
//   service.view({ sort: 'area', desc: true, limit: 10 });
//   service.cluster(82);                // one row of the view; { asView: false }: every column
//   const viewer = new ClusterViewer(service, { dir: 'pictures' });
//   await viewer.cluster(82);           // { path, png, ... }
//
// Same parameters ⇒ same run id (core/run/params.ts), so `fetch()` finds the finished run of these
// parameters. AWS clients come from core/store/aws.ts (plain SDK config + SST links), so the same code
// works against the local emulators and a deployed stage; tests inject their own dependencies.
import { join } from 'node:path';
import * as aq from 'arquero';
import { allowedSources, ledgerFromEnv, resultsBucket, s3Client, sqsClient, tilesQueueUrl } from '../store/aws.ts';
import { writeFile } from '../store/files.ts';
import { dayRange } from '../tiles/dates.ts';
import { allocAlerts } from '../tiles/decode.ts';
import { DEFAULT_DATASET, datasetByName, datasetDecoder, datasetOfSpec } from '../tiles/datasets.ts';
import { prepareRun, type AllowedSources, type RunRequest } from '../store/run-sources.ts';
import { rasterAlertSource, openRaster } from '../store/raster-source.ts';
import { submitRun, type BatchSender } from '../store/queue.ts';
import { clusterHull, exportClusters, streamExport, type ExportOptions, type Format, type StreamFormat } from './exports.ts';
import type { Ledger, Progress } from '../store/ledger.ts';
import { waitForManifest } from '../store/manifest-wait.ts';
import { completeRun } from '../store/run-completion.ts';
import { loadManifest, streamRunClusters, type ObjectReader } from '../store/result-store.ts';
import { MAX_PANELS_PER_SHEET, renderClusterPicture, renderClustersPicture, renderTilePicture, type Picture } from './render/pictures.ts';
import { buildRunReport } from './report/report.ts';
import {
  isRunId, parseRunSpec, runId as runIdOf, runTileCount, runTiles, validateRunParams,
  type Region, type RunSpec,
} from '../run/params.ts';
import { tileSourceFromTemplate } from '../store/tile-sources.ts';
import { defaultTilesUrl } from '../tiles/tile-url.ts';
import { project, selectRows, withRowIds, type SelectOptions } from './table.ts';
import { VIEW_COLUMNS } from '../clusters/schema.ts';
import type { ClusterRow, StoredCluster } from '../clusters/types.ts';
import { pixelToLonLat, tileKey } from '../tiles/grid.ts';
import type { Manifest } from '../run/types.ts';
import type { AlertSource, TileSource } from '../tiles/types.ts';
import { diffStoredRuns } from './run-diff.ts';
import type { RunDiff } from './diff.ts';

/** What the service needs from AWS (or the emulators): one bucket, one queue, the ledger. */
export interface ServiceDeps {
  s3: ObjectReader;
  bucket: string;
  sqs: BatchSender;
  queueUrl: string;
  ledger: Ledger;
  /** Reads input tiles for pictures and the report (default: from the run's tiles_url). */
  tileSource?: (template: string) => TileSource;
  /** The sources a deployed stack allows (default: its `Sources` resource; null locally). */
  allowed?: AllowedSources | null;
}

/** The AWS dependencies of the current environment (local stack env or `sst shell`). */
export function awsDeps(): ServiceDeps {
  return {
    s3: s3Client(),
    bucket: resultsBucket(),
    sqs: sqsClient(),
    queueUrl: tilesQueueUrl(),
    ledger: ledgerFromEnv(),
  };
}

/** The region in any of the four forms of the old ClusterService. */
export type RegionInput =
  | { tileBounds: [x0: number, y0: number, x1: number, y1: number] }
  | { bounds: [west: number, south: number, east: number, north: number] }
  | { lonlat: [lon: number, lat: number] }
  | { xy: [x: number, y: number] }
  /** Areas of interest: a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection (lon/lat). */
  | { aoi: unknown };

/**
 * Run parameters besides the region, as a run request takes them (core/store/run-sources.ts):
 * dates and clustering parameters default as in `npm run tile`, the dataset to glad-l, the tiles
 * to $TILES_URL else the dataset's address; rasters work through ClusterService.prepare only.
 */
export type ServiceParams = Partial<Omit<RunRequest, 'region'>>;

/** A region with parameters, a RunSpec already validated (e.g. by the CLI), or a run id. */
export type ServiceInput = (RegionInput & ServiceParams) | { spec: RunSpec } | { runId: string };

/** The run's region, from whichever form was given (exactly one). */
export function regionOfInput(input: RegionInput): Region {
  const forms = (['tileBounds', 'bounds', 'lonlat', 'xy', 'aoi'] as const).filter((k) => k in input);
  if (forms.length !== 1) {
    throw new Error(`give exactly one region (tileBounds, bounds, lonlat, xy or aoi), got ${forms.length ? forms.join(' and ') : 'none'}`);
  }
  if ('aoi' in input) return { kind: 'aoi', geojson: input.aoi };
  const arity = (values: unknown, n: number, name: string): number[] => {
    if (!Array.isArray(values) || values.length !== n) throw new Error(`${name} must be ${n} numbers`);
    return values as number[];
  };
  if ('tileBounds' in input) {
    const [x0, y0, x1, y1] = arity(input.tileBounds, 4, 'tileBounds');
    return { kind: 'tiles', x0, y0, x1, y1 };
  }
  if ('bounds' in input) {
    const [west, south, east, north] = arity(input.bounds, 4, 'bounds');
    return { kind: 'bbox', west, south, east, north };
  }
  if ('lonlat' in input) {
    const [lon, lat] = arity(input.lonlat, 2, 'lonlat');
    return { kind: 'point', lon, lat };
  }
  const [x, y] = arity(input.xy, 2, 'xy');
  return { kind: 'tile', x, y };
}

/** The validated RunSpec of region + parameters (defaults filled); one-line error otherwise. */
export function specOfInput(input: RegionInput & ServiceParams): RunSpec {
  const { z = 12, start_date, end_date, width, min_count, iterations, algorithm, time_width, dataset, confidence, tiles_url } = input;
  if (input.rasters) throw new Error('rasters must be opened first: use `await ClusterService.prepare(input)`');
  const url = tiles_url ?? defaultTilesUrl(process.env, datasetByName(dataset ?? DEFAULT_DATASET).tilesUrl);
  return validateRunParams({
    z, region: regionOfInput(input), start_date, end_date, width, min_count, iterations, algorithm, time_width, dataset, confidence,
    tiles_url: url,
  });
}

/** The run request of region (optional with rasters) + parameters, for prepareRun. */
function requestOfInput(input: Partial<RegionInput> & ServiceParams): RunRequest {
  const hasRegion = ['tileBounds', 'bounds', 'lonlat', 'xy'].some((k) => k in input);
  const { z = 12, start_date, end_date, width, min_count, iterations, algorithm, time_width, dataset, confidence, tiles_url, rasters } = input;
  return {
    z, region: hasRegion ? regionOfInput(input as RegionInput) : null,
    start_date, end_date, width, min_count, iterations, algorithm, time_width, dataset, confidence, tiles_url, rasters,
  };
}

/** One failed tile as `errors()` lists it: where it is and why it failed. */
export interface ErrorRow {
  tile: string;
  z: number;
  x: number;
  y: number;
  /** Centre of the tile. */
  latitude: number;
  longitude: number;
  error: string;
  stage: string;
}

export interface RunOptions {
  /** Called after each poll of the ledger (and once after enqueueing). */
  onProgress?: (progress: Progress & { run_id: string }) => void;
  pollMs?: number;
  /** Give up waiting after this long (the run goes on; fetch() later). Default 1 hour. */
  timeoutMs?: number;
  /** Refuse runs of more tiles than this (default 10,000: see checkRunSize in core/run/params.ts). */
  maxTiles?: number;
  /** Re-send the run's failed tiles; the manifest is rewritten with their new outcomes. */
  retryFailed?: boolean;
}


export class ClusterService {
  /** The run's id; for parameters whose tiles say `latest`, it is final once run() or fetch() pinned the release. */
  runId: string;
  /** The run's canonical parameters (null when built from a run id and not fetched yet). */
  spec: RunSpec | null;
  manifest: Manifest | null = null;
  private rows: ClusterRow[] | null = null;
  private depsFactory: () => ServiceDeps;
  private depsValue: ServiceDeps | null = null;
  /** Parameters whose sources are still to be resolved (`latest` to pin), null once done. */
  private request: RunRequest | null = null;

  /**
   * A service whose sources are resolved first (core/store/run-sources.ts): `latest` pinned to
   * today's release, rasters opened, checked and identified (their bounds are the region when none
   * is given). The way to build one from rasters.
   */
  static async prepare(input: Partial<RegionInput> & ServiceParams, deps?: ServiceDeps | (() => ServiceDeps)): Promise<ClusterService> {
    const allowed = typeof deps === 'object' && 'allowed' in deps ? deps.allowed : allowedSources();
    const { spec } = await prepareRun(requestOfInput(input), { allowed });
    return new ClusterService({ spec }, deps);
  }

  constructor(input: ServiceInput, deps?: ServiceDeps | (() => ServiceDeps)) {
    if ('runId' in input) {
      if (!isRunId(input.runId)) throw new Error(`"${input.runId}" is not a run id (r- and 16 hex digits)`);
      this.runId = input.runId;
      this.spec = null;
    } else if ('spec' in input) {
      this.spec = parseRunSpec(input.spec);
      this.runId = runIdOf(this.spec);
    } else {
      this.spec = specOfInput(input);
      this.runId = runIdOf(this.spec);
      // An address with `latest` is pinned to its release (the run id changes) before run() or fetch().
      if (this.spec.tiles_url !== undefined && /^https?:\/\//i.test(this.spec.tiles_url) && this.spec.tiles_url.includes('/latest/')) {
        this.request = requestOfInput(input);
      }
    }
    // AWS clients are made on first use, so building a service and requestSize() need no AWS setup.
    this.depsFactory = typeof deps === 'function' ? deps : deps ? () => deps : awsDeps;
  }

  private get deps(): ServiceDeps {
    this.depsValue ??= this.depsFactory();
    return this.depsValue;
  }

  /** Resolves the sources once (pins `latest`), updating spec and run id. */
  private async resolve(): Promise<void> {
    if (!this.request) return;
    const allowed = this.deps.allowed !== undefined ? this.deps.allowed : allowedSources();
    const { spec } = await prepareRun(this.request, { allowed });
    this.spec = spec;
    this.runId = runIdOf(spec);
    this.request = null;
  }

  /** Number of tiles the run covers (one queue message each). */
  requestSize(): number {
    if (!this.spec) throw new Error(`the size of run ${this.runId} is known once it is fetched (or build the service from parameters)`);
    return runTileCount(this.spec);
  }

  /** Enqueues the run (resuming it if it was started before), waits for its manifest, then fetches it. */
  async run(options: RunOptions = {}): Promise<this> {
    if (!this.spec) throw new Error('run() needs parameters: build the service from a region, not a run id');
    await this.resolve();
    const spec = this.spec;
    const { onProgress, pollMs = 500, timeoutMs = 3_600_000 } = options;
    const { ledger, sqs, queueUrl, s3, bucket } = this.deps;
    const results = { s3, bucket };
    const submission = await submitRun(spec, { ledger, sqs, queueUrl, results }, { maxTiles: options.maxTiles, retryFailed: options.retryFailed });
    if (submission.failed.length > 0) {
      throw new Error(`run ${this.runId}: ${submission.failed.length} tile messages could not be sent (first: ${submission.failed[0].message})`);
    }
    await waitForManifest(ledger, this.runId, {
      timeoutMs,
      pollMs,
      onProgress: (progress) => onProgress?.({ ...progress, run_id: this.runId }),
      complete: () => completeRun({ ...results, ledger }, this.runId),
      timeoutMessage: (progress) =>
        `run ${this.runId} not finished after ${Math.round(timeoutMs / 1000)} s (${progress ? `${progress.finished} of ${progress.tiles} tiles done` : 'not in the ledger'}); fetch() it later`,
    });
    return this.fetch();
  }

  /**
   * The run's manifest; clear one-line errors when there is no finished run (unknown run id,
   * parameters never run, run still going).
   */
  private async finishedManifest(): Promise<Manifest> {
    await this.resolve();
    const { s3, bucket, ledger } = this.deps;
    const manifest = await loadManifest(this.runId, s3, bucket);
    if (manifest) return manifest;
    // Every tile accounted but no manifest (the writer died, or it was deleted): write it now.
    const completion = await completeRun({ s3, bucket, ledger }, this.runId);
    if (completion.state === 'written') return completion.manifest;
    if (completion.state === 'done') {
      const again = await loadManifest(this.runId, s3, bucket);
      if (again) return again;
    }
    if (completion.state === 'held') {
      const seconds = Math.max(1, Math.ceil((completion.until - Date.now()) / 1000));
      throw new Error(`run ${this.runId}: every tile is done and its manifest is being written (lease held for ${seconds} s more): fetch again then`);
    }
    const progress = await ledger.progress(this.runId);
    if (progress) {
      // Queued tiles can be lost (a restarted `npm run dev` keeps its queue in memory): the way out.
      throw new Error(`run ${this.runId} is not finished: ${progress.finished} of ${progress.tiles} tiles done; if it does not move, submit the same parameters again (it resumes)`);
    }
    throw new Error(
      this.spec
        ? `no finished run for these parameters (run id ${this.runId}): run() it first`
        : `unknown run id ${this.runId}`,
    );
  }

  /**
   * Loads the finished run, members included unless `full: false` (pictures, concave hulls and the
   * report need them; convex hulls are stored with the clusters). Clear one-line errors when there
   * is no finished run.
   */
  async fetch(options: { full?: boolean } = {}): Promise<this> {
    const { s3, bucket } = this.deps;
    const manifest = await this.finishedManifest();
    const clusters: StoredCluster[] = [];
    for await (const tile of streamRunClusters(manifest, s3, { bucket, full: options.full ?? true })) clusters.push(...tile);
    this.manifest = manifest;
    this.spec ??= manifest.params;
    this.rows = withRowIds(clusters);
    return this;
  }

  /**
   * The run's clusters as csv, json or geojson text chunks, read and written one tile at a time
   * (no fetch() needed; memory stays that of a few tiles however large the run). The chunks
   * together equal `export(format, options)` without sort/limit. Members are read only for
   * `full` or the concave hull.
   */
  async *exportStream(format: StreamFormat, options: Pick<ExportOptions, 'full' | 'geometry' | 'hull'> = {}): AsyncGenerator<string> {
    const { s3, bucket } = this.deps;
    const manifest = await this.finishedManifest();
    this.manifest = manifest;
    this.spec ??= manifest.params;
    const full = Boolean(options.full) || options.hull === 'concave';
    yield* streamExport(streamRunClusters(manifest, s3, { bucket, full }), format, options);
  }

  private get loaded(): ClusterRow[] {
    if (!this.rows) throw new Error(`run ${this.runId} is not loaded: call run() or fetch() first`);
    return this.rows;
  }

  /** The short view (count, area, area_ha, dates, lat/lon, z/x/y, i/j, row id), sortable and sliceable. */
  view(options: SelectOptions = {}): Record<string, unknown>[] {
    return project(selectRows(this.loaded, options), VIEW_COLUMNS);
  }

  /** Every column, members (`alerts`) included, as an arquero table (the notebook's dataframe). */
  dataframe(options: SelectOptions = {}) {
    return aq.from(selectRows(this.loaded, options));
  }

  /** Every column of the selected rows as plain objects. */
  records(options: SelectOptions = {}): ClusterRow[] {
    return selectRows(this.loaded, options);
  }

  /** The failed tiles: tile, the lat/lon of its centre, the error and the stage it failed at. */
  errors(): ErrorRow[] {
    if (!this.manifest) throw new Error(`run ${this.runId} is not loaded: call run() or fetch() first`);
    return this.manifest.errors.map((e) => {
      const { lon, lat } = pixelToLonLat(e, 127.5, 127.5);
      return { tile: tileKey(e), z: e.z, x: e.x, y: e.y, latitude: lat, longitude: lon, error: e.message, stage: e.stage };
    });
  }

  /** One cluster by row id: its view row, or with `asView: false` every column and its members. */
  cluster(rowId: number, options: { asView?: boolean } = {}): Record<string, unknown> | ClusterRow {
    const [row] = selectRows(this.loaded, { rows: [rowId] });
    return options.asView === false ? row : project([row], VIEW_COLUMNS)[0];
  }

  /** The full record of one cluster (typed). */
  record(rowId: number): ClusterRow {
    return selectRows(this.loaded, { rows: [rowId] })[0];
  }

  /** The run's clusters in an export format (table, csv, json, geojson, parquet). */
  async export(format: Format, options: ExportOptions = {}): Promise<string | Uint8Array> {
    return exportClusters(this.loaded, format, options);
  }

  /**
   * What changed since an older run (a run id or a service): this run's clusters as new / grown /
   * shrunk / same, the older run's clusters without successor as gone (core/results/diff.ts).
   * Both runs must be finished; different algorithm, width or zoom is a one-line error.
   */
  async diff(old: string | ClusterService): Promise<RunDiff> {
    const oldId = typeof old === 'string' ? old : old.runId;
    if (!isRunId(oldId)) throw new Error(`"${oldId}" is not a run id (r- and 16 hex digits)`);
    const { s3, bucket } = this.deps;
    return diffStoredRuns(oldId, this.runId, { s3, bucket });
  }

  /** Reads the run's input tiles (for pictures and the report); throws for a run read from rasters. */
  tileSource(): TileSource {
    const spec = this.requireSpec();
    if (spec.tiles_url === undefined) throw new Error(`run ${this.runId} reads rasters, not tiles`);
    return (this.deps.tileSource ?? tileSourceFromTemplate)(spec.tiles_url);
  }

  /** The run's input alerts (for pictures and the report): its tiles decoded in its dataset's encoding, or its rasters' windows. */
  async alertSource(): Promise<AlertSource> {
    const spec = this.requireSpec();
    if (spec.rasters) {
      const rasters = await Promise.all(spec.rasters.map((r) => openRaster(r.url)));
      return rasterAlertSource(rasters, datasetOfSpec(spec), spec.confidence);
    }
    const tiles = this.tileSource();
    const decoder = datasetDecoder(datasetOfSpec(spec), spec.confidence);
    return {
      async alerts(tile, range) {
        const bytes = await tiles.read(tile);
        return bytes ? decoder.decode(bytes, range, tile) : null;
      },
    };
  }

  requireSpec(): RunSpec {
    if (!this.spec) throw new Error(`run ${this.runId} is not loaded: call run() or fetch() first`);
    return this.spec;
  }

  /**
   * The self-contained HTML report of the run; area outlines for a run with areas of interest.
   * With `diff` (of this run against an older one): clusters coloured by status (new red, grown
   * orange, shrunk blue), the old clusters' hulls dashed grey underneath, gone ones faint.
   */
  async report(options: { diff?: RunDiff } = {}): Promise<string> {
    const spec = this.requireSpec();
    let source: AlertSource | null = null;
    try {
      source = await this.alertSource();
    } catch {
      source = null; // the report notes that the alert tiles are not drawn
    }
    const { start_date, end_date, tiles_url: _url, rasters, region, dataset: _dataset, version, confidence, ...params } = spec;
    return buildRunReport({
      runId: this.runId,
      records: this.loaded,
      manifest: this.manifest,
      dates: { start_date, end_date },
      params: {
        // Where the alerts came from, first: dataset and release, minimum confidence, rasters.
        dataset: datasetOfSpec(spec).name,
        ...(version !== undefined ? { release: version } : {}),
        confidence: confidence === undefined ? 'all' : `${confidence} and above`,
        ...(rasters ? { rasters: rasters.map((r) => r.url).join(', ') } : {}),
        z: region.z, tiles: `${region.x0}..${region.x1} × ${region.y0}..${region.y1}`, ...params,
      },
      tiles: runTiles(spec),
      source,
      areas: spec.aoi?.areas,
      ...(options.diff ? diffReportParts(options.diff) : {}),
    });
  }
}

/** A diff's report parts: the new run's rows with their status, and the old hulls to draw beneath. */
function diffReportParts(diff: RunDiff) {
  const used = new Set(diff.rows.map((r) => r.old_row_id));
  const status = new Map(diff.rows.filter((r) => r.status === 'gone').map((r) => [r.row_id, 'gone']));
  const oldHulls = diff.previous
    .filter((r) => used.has(r.row_id))
    .flatMap((r) => {
      try {
        return [{ row_id: r.row_id, status: status.get(r.row_id) ?? 'matched', hull: clusterHull(r).coordinates[0].map(([lon, lat]) => [lat, lon] as [number, number]) }];
      } catch {
        return [];
      }
    });
  return { records: diff.rows.filter((r) => r.status !== 'gone'), oldHulls };
}

/** A picture as the viewer returns it: PNG bytes, and the file it was written to (with a `dir`). */
export interface SavedPicture extends Picture {
  path: string | null;
}

/** The old ClusterViewer: pictures of a fetched service's tiles and clusters. */
export class ClusterViewer {
  readonly service: ClusterService;
  readonly dir: string | null;

  constructor(service: ClusterService, options: { dir?: string } = {}) {
    this.service = service;
    this.dir = options.dir ?? null;
  }

  private save(picture: Picture, name: string): SavedPicture {
    if (!this.dir) return { ...picture, path: null };
    const path = join(this.dir, `${this.service.runId}-${name}.png`);
    writeFile(path, picture.png);
    return { ...picture, path };
  }

  /** The input alerts of the tile holding cluster `rowId`, with that tile's cluster centres marked. */
  async tile(rowId: number): Promise<SavedPicture> {
    const record = this.service.record(rowId);
    const spec = this.service.requireSpec();
    const tile = { z: record.z, x: record.x, y: record.y };
    // A missing tile has no alerts.
    const alerts = (await (await this.service.alertSource()).alerts(tile, dayRange(spec))) ?? allocAlerts(0);
    const centres = this.service.records().filter((r) => r.z === tile.z && r.x === tile.x && r.y === tile.y);
    const highlight = centres.findIndex((r) => r.row_id === rowId);
    const picture = renderTilePicture(tile, alerts, { centres, highlight, caption: `run ${this.service.runId} · cluster #${rowId}` });
    return this.save(picture, `tile-${tile.z}-${tile.x}-${tile.y}`);
  }

  /** One cluster's alerts coloured by date, its centre marked, titled with its numbers. */
  cluster(rowId: number): SavedPicture {
    return this.save(renderClusterPicture(this.service.record(rowId)), `cluster-${rowId}`);
  }

  /** The row ids of a selection; start..end is clipped to the run's rows (end excluded). */
  private selectionIds(selection: { rows: number[] } | { start: number; end: number }): number[] {
    let ids: number[];
    if ('rows' in selection) ids = selection.rows;
    else {
      const { start, end } = selection;
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start) {
        throw new Error(`start=${start} end=${end}: need whole numbers with 0 ≤ start < end (end excluded)`);
      }
      const count = this.service.records().length;
      if (start >= count) throw new Error(`start=${start}: the run has ${count} clusters (row ids 0..${count - 1})`);
      ids = Array.from({ length: Math.min(end, count) - start }, (_, k) => start + k);
    }
    if (ids.length === 0) throw new Error('no row ids given');
    return ids;
  }

  private drawClusters(ids: number[]): SavedPicture {
    const records = selectRows(this.service.records(), { rows: ids });
    return this.save(renderClustersPicture(records), `clusters-${ids.length > 6 ? `${ids[0]}-${ids[ids.length - 1]}` : ids.join('_')}`);
  }

  /** Several clusters side by side (at most MAX_PANELS_PER_SHEET): by row ids, or the row ids start..end-1. */
  clusters(selection: { rows: number[] } | { start: number; end: number }): SavedPicture {
    return this.drawClusters(this.selectionIds(selection));
  }

  /**
   * Any number of clusters, MAX_PANELS_PER_SHEET per picture, drawn one sheet at a time (memory of
   * one sheet). With a `dir`, each sheet is written and its PNG bytes are not kept (png is empty).
   */
  clusterSheets(selection: { rows: number[] } | { start: number; end: number }): SavedPicture[] {
    const ids = this.selectionIds(selection);
    const sheets: SavedPicture[] = [];
    for (let k = 0; k < ids.length; k += MAX_PANELS_PER_SHEET) {
      const sheet = this.drawClusters(ids.slice(k, k + MAX_PANELS_PER_SHEET));
      sheets.push(sheet.path ? { ...sheet, png: Buffer.alloc(0) } : sheet);
    }
    return sheets;
  }
}

