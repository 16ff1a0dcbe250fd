/**
 * Bundles a worker entry point into one minified CommonJS file with a linked
 * source map (plus one such file for each part it loads on first use, such as
 * its SDK clients), at program time: `pulumi up` always ships the code in the
 * checkout, with no build step to forget. Also packs a bundle into the
 * deployment zip every cloud uploads.
 */
import { buildSync } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

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
  /**
   * Files bundled on their own beside the entry, each as `<name>.js` from
   * `<name>.ts`, and left out of the entry's bundle: the entry's code loads
   * one with `require("./<name>")` when it first needs it, so a fresh
   * instance neither parses nor runs it before then (the cloud SDK clients).
   * Relative to the repository root or absolute. @default []
   */
  readonly lazy?: readonly string[];
}

export interface BundledFile {
  /** Absolute path. */
  readonly path: string;
  /** The file's name inside the deployment package. */
  readonly name: string;
  /** SHA-256 (hex) of the file as built. */
  readonly sha256: string;
}

export interface Bundle {
  /** The bundle, then its source map, then each lazily loaded file and its map. */
  readonly files: readonly BundledFile[];
}

export interface DeploymentArchive {
  /** The bundle's files, then the generated ones. */
  readonly archive: pulumi.asset.AssetArchive;
  /** SHA-256 (hex) over every entry's name and content hash: the package's identity. */
  readonly sha256: string;
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
  const lazyNames = (options.lazy ?? []).map((file) => path.basename(file, path.extname(file)));
  const external = [...(options.external ?? [])];
  build(path.resolve(REPO_ROOT, options.entry), outFile, [...external, ...lazyNames.map((name) => `./${name}`)]);
  const outFiles = [outFile];
  (options.lazy ?? []).forEach((file, index) => {
    const lazyOut = path.join(outDir, `${lazyNames[index]}.js`);
    build(path.resolve(REPO_ROOT, file), lazyOut, external);
    outFiles.push(lazyOut);
  });
  const files = outFiles.flatMap((file) => [file, `${file}.map`]).map((file) => ({ path: file, name: path.basename(file), sha256: sha256Of(readFileSync(file)) }));
  const bundle: Bundle = { files };
  cache.set(key, bundle);
  return bundle;
}

function build(entry: string, outfile: string, external: readonly string[]): void {
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    minify: true,
    treeShaking: true,
    // `linked` writes <file>.map and a `//# sourceMappingURL` comment; the
    // function runs with --enable-source-maps, so stack traces show the TypeScript lines.
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "none",
    external: [...external],
    logLevel: "silent",
  });
}

function sha256Of(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

/**
 * The deployment zip: the bundle's files plus `generated` (file name → text),
 * and its identity. Each entry is hashed as its name, a NUL (never part of a
 * file name) and its content's fixed-length SHA-256, so two different lists of
 * entries never share a hash.
 */
export function deploymentArchive(bundle: Bundle, generated: Readonly<Record<string, string>>): DeploymentArchive {
  const texts = Object.entries(generated);
  const entries = [...bundle.files.map((file) => [file.name, file.sha256]), ...texts.map(([name, text]) => [name, sha256Of(text)])];
  return {
    archive: new pulumi.asset.AssetArchive({
      ...Object.fromEntries(bundle.files.map((file) => [file.name, new pulumi.asset.FileAsset(file.path)])),
      ...Object.fromEntries(texts.map(([name, text]) => [name, new pulumi.asset.StringAsset(text)])),
    }),
    sha256: sha256Of(entries.map(([name, hash]) => `${name}\0${hash}`).join("")),
  };
}
