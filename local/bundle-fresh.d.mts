// Types of bundle-fresh.mjs (JavaScript, so that a start loads no .ts file).

/** An input's repository path, size and mtime (ms) when the bundle was built. */
export type InputStamp = [path: string, size: number, mtimeMs: number];

/** The manifest.json of a bundle's cache folder: the current build and the inputs it was built from. */
export interface BundleManifest {
  /** JSON of the esbuild options it was built with. */
  options: string;
  /** Folder of this build under the bundle's cache folder. */
  build: string;
  /** The entry chunk, in the build folder. */
  entry: string;
  inputs: InputStamp[];
}

export declare const OPTIONS: {
  readonly bundle: true;
  readonly splitting: true;
  readonly format: 'esm';
  readonly platform: 'node';
  readonly target: 'node22';
  readonly packages: 'external';
  readonly keepNames: true;
};
export declare function bundleDir(root: string, entry: string): string;
export declare function stamp(root: string, path: string): InputStamp | null;
export declare function freshEntry(root: string, dir: string): string | null;
