/**
 * Helpers for the local fleet's tests: a loopback page server whose paths
 * behave as their names say, temporary directories, and the CLI run as a real
 * child process (`node --import tsx functions/local/cli.ts`, so a signal
 * reaches the fleet itself and not a wrapper).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EventEmitter } from "node:events";
import { PassThrough } from "node:stream";
import { resultKey, type ResultRecord } from "../../shared/result";
import type { CliIO } from "../../functions/local/cli";
import type { DeadLetterLine } from "../../functions/local/deadLetters";

export const REPO_ROOT = resolve(__dirname, "..", "..");
const CLI = join(REPO_ROOT, "functions", "local", "cli.ts");

/**
 * Paths (the number after the kind only makes each URL distinct):
 * - `/ok/N`: 200 with a page titled `Page N`
 * - `/missing/N`: 404
 * - `/flaky/N`: 503 with `Retry-After: 0` the first time, 200 after
 * - `/down/N`: 503 with `Retry-After: 0` every time
 * - `/slow/N`: 200 after `slowMs`
 * - anything else (robots.txt included): 404
 */
export interface PageServer {
  readonly origin: string;
  url(path: string): string;
  /** Requests seen per path. */
  hits(path: string): number;
  /** Every page request's path, in arrival order (robots.txt left out). */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

export async function startPageServer(options: { readonly slowMs?: number } = {}): Promise<PageServer> {
  const counts = new Map<string, number>();
  const requests: string[] = [];
  const slowMs = options.slowMs ?? 300;
  const server = createServer((request, response) => {
    const path = request.url ?? "/";
    const seen = (counts.get(path) ?? 0) + 1;
    counts.set(path, seen);
    if (path !== "/robots.txt") requests.push(path);
    response.on("error", () => undefined);
    const kind = /^\/(\w+)\//.exec(path)?.[1];
    const page = (): void => void response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html><title>Page ${path}</title><p>${path}</p>`);
    switch (kind) {
      case "ok":
        return page();
      case "flaky":
        if (seen > 1) return page();
        return void response.writeHead(503, { "retry-after": "0", "content-type": "text/plain" }).end("busy");
      case "down":
        return void response.writeHead(503, { "retry-after": "0", "content-type": "text/plain" }).end("down");
      case "slow":
        return void setTimeout(page, slowMs);
      default:
        return void response.writeHead(404, { "content-type": "text/plain" }).end("not found");
    }
  });
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", () => resolveListen()));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("page server has no TCP address");
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    hits: (path) => counts.get(path) ?? 0,
    requests,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}

export interface TempDir {
  readonly path: string;
  cleanup(): Promise<void>;
}

/** A fresh directory under the OS temp folder, removed by `cleanup`. */
export async function makeTempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), "scrape-fleet-local-test-"));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Hooks for the calling `describe`: every test gets a fresh temporary
 * directory and page server (`options` as for `startPageServer`), both
 * removed after it.
 */
export function useDirAndPageServer(options: { readonly slowMs?: number } = {}): { readonly dir: TempDir; readonly server: PageServer } {
  const fixture = {} as { dir: TempDir; server: PageServer };
  beforeEach(async () => {
    fixture.dir = await makeTempDir();
    fixture.server = await startPageServer(options);
  });
  afterEach(async () => {
    await fixture.server.close();
    await fixture.dir.cleanup();
  });
  return fixture;
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SpawnedCli {
  readonly child: ChildProcess;
  readonly done: Promise<CliRun>;
  stderrSoFar(): string;
}

export interface SpawnOptions {
  readonly stdin?: string;
  /** Extra environment variables, such as the `INIT_CWD` npm sets. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts the CLI as a child process, in the repository root as `npm start` does. */
export function spawnCli(args: readonly string[], options: SpawnOptions = {}): SpawnedCli {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin?.end(options.stdin ?? "");
  const done = new Promise<CliRun>((resolveRun, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolveRun({ code, signal, stdout, stderr }));
  });
  return { child, done, stderrSoFar: () => stderr };
}

export function runCli(args: readonly string[], options: SpawnOptions = {}): Promise<CliRun> {
  return spawnCli(args, options).done;
}

/** In-process IO for `main()`: collected output, a given stdin, signals the test raises, relative paths from `cwd`. */
export function captureIO(stdinText = "", cwd = process.cwd()): CliIO & { out(): string; err(): string; raise(signal: "SIGINT" | "SIGTERM"): void } {
  let out = "";
  let err = "";
  const stdin = new PassThrough();
  stdin.end(stdinText);
  const signals = new EventEmitter();
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    stdin,
    signals,
    cwd,
    out: () => out,
    err: () => err,
    raise: (signal) => void signals.emit(signal, signal),
  };
}

/** The result record for `url` in `outDir`, or undefined when there is none. */
export async function readResult(outDir: string, url: string): Promise<ResultRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(outDir, resultKey(url)), "utf8")) as ResultRecord;
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return undefined;
    throw error;
  }
}

/** Result files (`*.json`) in `outDir/results`. */
export async function resultFiles(outDir: string): Promise<string[]> {
  try {
    return (await readdir(join(outDir, "results"))).filter((name) => name.endsWith(".json"));
  } catch {
    return [];
  }
}

/** The lines of `outDir/dead-letters.jsonl`, raw and parsed. */
export async function readDeadLetters(outDir: string): Promise<{ readonly lines: string[]; readonly entries: DeadLetterLine[] }> {
  const text = await readFile(join(outDir, "dead-letters.jsonl"), "utf8");
  const lines = text.split("\n").filter((line) => line !== "");
  return { lines, entries: lines.map((line) => JSON.parse(line) as DeadLetterLine) };
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 25));
  }
}

/**
 * Mounts a tmpfs of `sizeKb` at `path` (read-only when asked), to meet a full
 * disk or a read-only directory for real. Needs root (CAP_SYS_ADMIN); returns
 * undefined where mounting is not allowed, and the caller skips.
 */
export function mountTmpfs(path: string, options: { readonly sizeKb: number; readonly readOnly?: boolean }): { unmount(): void } | undefined {
  const flags = [`size=${options.sizeKb}k`, ...(options.readOnly ? ["ro"] : [])].join(",");
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", flags, "tmpfs", path], { stdio: "ignore" });
  if (mounted.status !== 0) return undefined;
  return { unmount: () => void spawnSync("umount", ["-l", path], { stdio: "ignore" }) };
}
