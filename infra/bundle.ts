/**
 * Bundles a worker entry point into one minified CommonJS file with a linked
 * source map, at program time: `pulumi up` always ships the code in the
 * checkout, with no build step to forget.
 */
import { buildSync } from "esbuild";
import { mkdirSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";

export interface BundleOptions {
  /** The worker's entry file, relative to the repository root or absolute. */
  readonly entry: string;
  /** Where the bundle goes (emptied first), such as `dist/aws`. Relative to the repository root or absolute. */
  readonly outDir: string;
  /** Name of the bundle file. @default "index.js" */
  readonly outFile?: string;
  /**
   * Packages left out of the bundle because the runtime provides them
   * (the AWS SDK v3 on Lambda's Node.js runtimes). @default []
   */
  readonly external?: readonly string[];
}

export interface BundledFile {
  /** Absolute path. */
  readonly path: string;
  /** The file's name inside the deployment package. */
  readonly name: string;
  readonly bytes: number;
}

export interface Bundle {
  /** The bundle, then its source map. */
  readonly files: readonly BundledFile[];
  /** Size of the code file (without the map). */
  readonly codeBytes: number;
}

/** The repository root: this file lives in `<root>/infra`. */
export const REPO_ROOT = path.resolve(__dirname, "..");

const cache = new Map<string, Bundle>();

/**
 * Bundles `entry` for Node.js 22+ (the oldest runtime the fleet deploys) and
 * returns the files written. Cached per process by its options, so a test run
 * that builds many stacks bundles each worker once.
 */
export function bundleWorker(options: BundleOptions): Bundle {
  const key = JSON.stringify(options);
  const cached = cache.get(key);
  if (cached) return cached;

  const outDir = path.resolve(REPO_ROOT, options.outDir);
  const outFile = path.join(outDir, options.outFile ?? "index.js");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  buildSync({
    entryPoints: [path.resolve(REPO_ROOT, options.entry)],
    outfile: outFile,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: true,
    treeShaking: true,
    // `linked` writes index.js.map and a `//# sourceMappingURL` comment; the
    // function runs with --enable-source-maps, so stack traces show the TypeScript lines.
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "none",
    external: [...(options.external ?? [])],
    logLevel: "silent",
  });
  const files = [outFile, `${outFile}.map`].map((file) => ({ path: file, name: path.basename(file), bytes: statSync(file).size }));
  const bundle: Bundle = { files, codeBytes: files[0].bytes };
  cache.set(key, bundle);
  return bundle;
}
