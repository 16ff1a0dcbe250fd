/**
 * `npm start -- [options] URLS_FILE`: the local fleet. Reads the URLs into the
 * durable queue in `--out DIR`, runs the shared worker over them with a
 * progress display, and prints a summary. Killed and started again on the same
 * directory, it resumes where it stopped.
 *
 * Relative paths are the user's: npm runs a package's scripts in the package
 * root, whatever directory `npm start` (or `npm --prefix DIR start`) was typed
 * in, and records that directory in `INIT_CWD`
 * (https://docs.npmjs.com/cli/v10/commands/npm-run-script#description).
 * Messages show each path as it was typed.
 */
import { mkdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { SettingsError, describeError } from "../../shared/errors";
import { createFetcher } from "../../shared/fetcher";
import { createJsonLogger } from "../../shared/logging";
import { RESULT_PREFIX, resultKey, type ResultRecord } from "../../shared/result";
import { isBatchObject, isPerPageObject, newestResults } from "../../shared/resultReader";
import { createWorker } from "../../shared/worker";
import { HELP, parseCliArgs, type CliOptions } from "./args";
import { DEAD_LETTERS_FILE, writeDeadLetters } from "./deadLetters";
import { DirectoryInUseError, EXIT_CODES, QueueFileError, UsageError, type ExitCode } from "./errors";
import { runFleet, type StopReason } from "./fleet";
import { RunMetrics } from "./metrics";
import { ProgressDisplay, formatSummary, type OutputStream } from "./progress";
import { PageFetches } from "./pageFetches";
import { finishedCount, LocalQueue, type Completion, type RunOwner } from "./queue";
import { FileResultStore } from "./resultStore";
import { RUN_LOCK_FILE, currentProcess, tryLockDirectory, type RunLock } from "./runLock";
import { storageProblem } from "./storageErrors";
import { defaultSettings, describeSettingsError, watchSettingsFile, type LocalSettings } from "./settingsSource";
import { listenForStop, type SignalSource } from "./stopSignals";
import { STDIN_NAME, readUrlList, type UrlList } from "./urlsFile";

/** The queue file inside the output directory. */
export const QUEUE_FILE = "queue.sqlite";

/** Problems listed one per line before the rest are only counted. */
const LISTED_PROBLEMS = 10;

export interface CliIO {
  readonly stdout: OutputStream;
  /** Progress, notes and errors. */
  readonly stderr: OutputStream;
  /** Read when URLS_FILE is `-`. */
  readonly stdin: Readable;
  /** Where SIGINT and SIGTERM are heard. */
  readonly signals: SignalSource;
  /** The directory relative paths are resolved against: the user's. */
  readonly cwd: string;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, signals: process, cwd: process.env.INIT_CWD ?? process.cwd() };
}

/** The files a run uses, resolved against the user's directory. */
interface RunPaths {
  /** The URLs file, or `-` for stdin. */
  readonly urlsFile: string;
  readonly outDir: string;
  readonly configFile?: string;
}

function resolvePaths(options: CliOptions, cwd: string): RunPaths {
  return {
    urlsFile: options.urlsFile === STDIN_NAME ? STDIN_NAME : resolve(cwd, options.urlsFile),
    outDir: resolve(cwd, options.outDir),
    ...(options.configFile === undefined ? {} : { configFile: resolve(cwd, options.configFile) }),
  };
}

/** Runs the CLI and returns its exit code (see `EXIT_CODES`). */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<ExitCode> {
  // Every status line goes through the display, so none lands inside the progress bar.
  const display = new ProgressDisplay({ stream: io.stderr });
  const note = (line: string): void => display.log(`scrape-fleet: ${line}`);

  let options: CliOptions;
  try {
    const command = parseCliArgs(argv);
    if (command.kind === "help") {
      io.stdout.write(`${HELP}\n`);
      return EXIT_CODES.complete;
    }
    options = command.options;
  } catch (error) {
    // The one place that points to --help: the messages themselves only name the problem.
    if (!(error instanceof UsageError)) throw error;
    note(`error: ${error.message}`);
    note("run with --help to list the options");
    return EXIT_CODES.usage;
  }

  const paths = resolvePaths(options, io.cwd);
  let settings: LocalSettings;
  try {
    settings = paths.configFile
      ? await watchSettingsFile({
          path: paths.configFile,
          onReload: (changed, current) => note(`settings reloaded from ${options.configFile}: ${changed.map((key) => `${key}=${JSON.stringify(current[key])}`).join(", ")}`),
          onError: (error) => note(`settings edit ignored, the last good settings stay in force: ${describeError(error)}`),
        })
      : defaultSettings();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    note(`error: the settings file ${options.configFile} cannot be used:\n${describeSettingsError(error)}`);
    return EXIT_CODES.usage;
  }

  try {
    let list: UrlList;
    try {
      list = await readUrlList(paths.urlsFile, io.stdin, options.urlsFile);
      await mkdir(paths.outDir, { recursive: true }).catch((error: unknown) => {
        throw new UsageError(`--out ${options.outDir} cannot be used as the output directory (${describeError(error)}); pass a directory you can write to`);
      });
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      note(`error: ${error.message}`);
      return EXIT_CODES.usage;
    }
    return await run({ options, paths, list, settings, io, display, note });
  } catch (error) {
    note(`error: ${describeRunError(error, options)}`);
    return error instanceof UsageError ? EXIT_CODES.usage : EXIT_CODES.incomplete;
  } finally {
    settings.close();
  }
}

function describeRunError(error: unknown, options: CliOptions): string {
  if (error instanceof DirectoryInUseError || error instanceof UsageError) return error.message;
  const queueFile = join(options.outDir, QUEUE_FILE);
  const keepResults = `the results in ${join(options.outDir, "results")}/ are kept, and a run on a new queue does not fetch their URLs again`;
  if (error instanceof QueueFileError) {
    return `${queueFile} is not a scrape-fleet queue (${error.problem}); move it aside or delete it and run again (${keepResults}), or pass another --out`;
  }
  switch (storageProblem(error)) {
    case "disk-full":
      return `the disk holding ${options.outDir} is full (${describeError(error)}); free some space and run the same command again: every page recorded so far is kept, and the run resumes where it stopped`;
    case "cannot-write":
      return `${options.outDir} can no longer be written (${describeError(error)}); make it writable again and run the same command to resume`;
    case "damaged":
      return `${queueFile} is damaged (${describeError(error)}); move it aside or delete it and run again (${keepResults})`;
    default:
      return describeError(error);
  }
}

/** Takes the directory's lock and opens its queue; a directory that cannot be written is a usage error, as nothing has run yet. */
function openOutput(paths: RunPaths, options: CliOptions): { readonly lock: RunLock | undefined; readonly queue: LocalQueue } {
  let lock: RunLock | undefined;
  try {
    lock = tryLockDirectory(join(paths.outDir, RUN_LOCK_FILE));
    return { lock, queue: LocalQueue.open(join(paths.outDir, QUEUE_FILE), { maxAttempts: options.maxAttempts }) };
  } catch (error) {
    lock?.release();
    if (storageProblem(error) === "cannot-write") {
      throw new UsageError(`--out ${options.outDir} cannot be written (${describeError(error)}); pass a directory you can write to, or make this one writable`);
    }
    throw error;
  }
}

interface RunContext {
  readonly options: CliOptions;
  readonly paths: RunPaths;
  readonly list: UrlList;
  readonly settings: LocalSettings;
  readonly io: CliIO;
  readonly display: ProgressDisplay;
  readonly note: (line: string) => void;
}

async function run({ options, paths, list, settings, io, display, note }: RunContext): Promise<ExitCode> {
  const startedAt = Date.now();
  const queueLost = await lostQueue(paths);
  const { lock, queue } = openOutput(paths, options);
  try {
    if (!lock) throw new DirectoryInUseError(describeHolder(queue.owner(), options.outDir, startedAt));
    const takeOver = queue.takeOwnership({ ...currentProcess(), startedAt });
    const results = new FileResultStore(paths.outDir);
    await results.sweep();

    const finishedBefore = finishedCount(queue.counts());
    reportIntake(list, queue, options, note);
    if (queueLost) await recoverFromResults(queueLost, list, queue, results, options, note);
    const finishedAtStart = finishedCount(queue.counts());
    if ((finishedBefore > 0 && queue.hasPending()) || takeOver.previous) {
      const interrupted = takeOver.previous ? `; the previous run (pid ${takeOver.previous.pid}) did not finish, and the ${takeOver.reclaimed} page(s) it had in flight are queued again` : "";
      note(`resuming ${options.outDir}: ${finishedBefore} of ${queue.counts().total} URLs were finished by earlier runs${interrupted}`);
    }
    if (options.allowPrivateNetworks) {
      note("warning: --allow-private-networks is on: loopback and private-network addresses may be fetched (link-local and cloud metadata stay refused); use it for local testing only");
    }

    const logger = createJsonLogger({ minLevel: options.verbose ? "debug" : "error", write: (line) => display.log(line.trimEnd()) });
    const metrics = new RunMetrics();
    const pageFetches = new PageFetches();
    const fetcher = pageFetches.track(createFetcher({ allowPrivateNetworks: options.allowPrivateNetworks }));
    const worker = createWorker({ settings, results, fetcher, metrics, logger, allowPrivateNetworks: options.allowPrivateNetworks });
    const stop = listenForStop(io.signals, (signal) => {
      const finishing = pageFetches.size > 0 ? `finishing the ${pageFetches.size} page(s) being fetched, then stopping` : "stopping";
      note(`${signal}: ${finishing}; pages not yet started go back to the queue (press Ctrl-C again to stop at once; the next run picks up the rest)`);
    });
    let paused = false;
    display.start(() => ({ counts: queue.counts(), finishedAtStart, startedAt, now: Date.now(), paused, stopping: stop.signal.aborted }));

    let reason: StopReason | "forced";
    try {
      reason = await Promise.race([
        runFleet({
          queue,
          worker,
          settings,
          concurrency: options.concurrency,
          signal: stop.signal,
          isFetchingPage: (href) => pageFetches.isFetching(href),
          logger,
          onPause: (now) => {
            paused = now;
            note(now ? "paused: the settings say enabled: false; waiting for enabled: true (Ctrl-C stops)" : "resumed: the settings say enabled: true");
          },
        }),
        stop.forced,
      ]);
    } finally {
      stop.dispose();
      display.stop();
    }

    await writeDeadLetters(join(paths.outDir, DEAD_LETTERS_FILE), queue.deadLetters());
    if (reason === "forced") {
      // The pages still in flight are abandoned; their claims are taken back when the next run starts.
      note(`stopped at once; the ${queue.counts().inFlight} page(s) in flight are queued again on the next run`);
      return stop.exitCode();
    }
    await worker.close();
    if (reason === "lost-ownership") {
      note(`error: another run took over ${options.outDir} while this one was running; this run stopped claiming pages`);
    } else {
      queue.releaseOwnership();
    }
    // A stop that comes after the last page was claimed can still see every page finish.
    const complete = reason === "finished" || (reason === "stopped" && !queue.hasPending());
    io.stdout.write(
      `${formatSummary({
        counts: queue.counts(),
        failureCodes: queue.failureCodes(),
        finishedAtStart,
        finishedByEarlierRuns: finishedBefore,
        elapsedMs: Date.now() - startedAt,
        outDir: options.outDir,
        resultsDir: `${join(options.outDir, "results")}/`,
        resultsBatched: (await settings.get()).resultBatchMaxRecords > 1,
        deadLettersFile: join(options.outDir, DEAD_LETTERS_FILE),
        complete,
        traffic: metrics.snapshot(),
        privateNetworksAllowed: options.allowPrivateNetworks,
      })}\n`,
    );
    if (complete) return EXIT_CODES.complete;
    return reason === "stopped" ? stop.exitCode() : EXIT_CODES.incomplete;
  } finally {
    queue.close();
    lock?.release();
  }
}

function describeHolder(holder: RunOwner | undefined, outDir: string, now: number): string {
  const who = holder
    ? `another run (pid ${holder.pid} on ${holder.host}, started ${new Date(holder.startedAt).toISOString()}, last heartbeat ${Math.round((now - holder.heartbeatAt) / 1_000)} s ago)`
    : "another run";
  return `${who} is using ${outDir}; wait for it to finish, stop it, or pass a different --out`;
}

/**
 * How the queue file was lost while results survived, if it was: truncated to
 * 0 bytes (SQLite would read that as a new, empty queue), or deleted, or moved
 * aside after it was damaged. Without this every URL would be fetched again
 * and its result overwritten. A queue never written yet is absent with no
 * results beside it.
 */
async function lostQueue(paths: RunPaths): Promise<"empty" | "missing" | undefined> {
  try {
    return (await stat(join(paths.outDir, QUEUE_FILE))).size === 0 ? "empty" : undefined;
  } catch {
    for await (const name of new FileResultStore(paths.outDir).listResultObjects(RESULT_PREFIX, new AbortController().signal)) {
      if (isPerPageObject(name) || isBatchObject(name)) return "missing";
    }
    return undefined;
  }
}

/**
 * After the queue was lost, the result records in the directory are what is
 * known: each URL of the list that has one is marked finished (ok or failed,
 * as its newest record says, per-page or batched) and not fetched again; the
 * rest are fetched.
 */
async function recoverFromResults(how: "empty" | "missing", list: UrlList, queue: LocalQueue, results: FileResultStore, options: CliOptions, note: (line: string) => void): Promise<void> {
  const listed = new Map(list.urls.map((entry) => [resultKey(entry.url), entry.key]));
  const finished: ({ readonly key: string } & Completion)[] = [];
  for await (const found of newestResults(results, new AbortController().signal)) {
    if (found.kind === "unreadable") continue;
    const record = found.record as Partial<ResultRecord>;
    const key = typeof record.key === "string" ? listed.get(record.key) : undefined;
    if (key === undefined) continue;
    finished.push(record.status === "ok" ? { key, outcome: "ok" } : { key, outcome: "failed", code: record.code ?? "internal_error", reason: record.error ?? "recorded as failed by an earlier run" });
  }
  const kept = queue.recordFinished(finished);
  note(
    `${join(options.outDir, QUEUE_FILE)} ${how === "empty" ? "was empty (0 bytes: truncated)" : "was missing"}, so what earlier runs did is known only from their results: ` +
      `${kept} URL(s) of the list already have a result in ${join(options.outDir, "results")}/ and are kept, not fetched again; the other ${list.urls.length - kept} are queued` +
      (how === "missing" ? ` (to fetch everything again, delete ${options.outDir} or pass another --out)` : ""),
  );
}

/**
 * Queues the list and says what came of it. The lines that are not URLs and
 * the duplicates are listed when the list is first read; a resume reading the
 * same list again only counts them, instead of printing them on every run.
 */
function reportIntake(list: UrlList, queue: LocalQueue, options: CliOptions, note: (line: string) => void): void {
  const added = queue.enqueue(list.urls.map((entry) => ({ key: entry.key, url: entry.url, body: entry.body, origin: { source: list.source, line: entry.line } })));
  const newLines = queue.rejectLines(
    list.invalid.map((entry) => ({ key: `line:${entry.value}`, rawLine: entry.value, origin: { source: list.source, line: entry.line }, code: entry.code, reason: entry.reason })),
  );
  const rejected = newLines.length;
  const known = list.urls.length - added;
  const deadLettersFile = join(options.outDir, DEAD_LETTERS_FILE);

  if (rejected > 0) {
    note(`${rejected} line(s) in ${list.source} are not URLs; each is recorded as a dead letter and the run goes on:`);
    for (const entry of newLines.slice(0, LISTED_PROBLEMS)) note(`  ${entry.reason}`);
    if (rejected > LISTED_PROBLEMS) note(`  … and ${rejected - LISTED_PROBLEMS} more, all in ${deadLettersFile}`);
  }
  if (list.duplicates.length > 0 && known === 0) {
    const shown = list.duplicates
      .slice(0, LISTED_PROBLEMS)
      .map((entry) => `line ${entry.line} (same URL as line ${entry.firstLine})`)
      .join(", ");
    const more = list.duplicates.length > LISTED_PROBLEMS ? `, … and ${list.duplicates.length - LISTED_PROBLEMS} more` : "";
    note(`${list.duplicates.length} duplicate line(s) in ${list.source}, each URL is queued once: ${shown}${more}`);
  }
  const earlier = [
    ...(list.invalid.length > rejected ? [`${list.invalid.length - rejected} line(s) that are not URLs (in ${deadLettersFile})`] : []),
    ...(list.duplicates.length > 0 && known > 0 ? [`${list.duplicates.length} duplicate line(s)`] : []),
  ];
  if (earlier.length > 0) note(`${list.source} still has ${earlier.join(" and ")}, reported when it was first read`);
  note(`${added} URL(s) queued from ${list.source}${known > 0 ? ` (${known} already in ${options.outDir} from an earlier run)` : ""}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    // Exit explicitly once stdout has drained: an idle keep-alive socket must not hold a finished run open.
    (code) => void process.stdout.write("", () => process.exit(code)),
    (error: unknown) => {
      process.stderr.write(`scrape-fleet: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(EXIT_CODES.incomplete);
    },
  );
}
