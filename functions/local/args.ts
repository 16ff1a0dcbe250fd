/**
 * The command line: `npm start -- [options] URLS_FILE`.
 */
import { parseArgs } from "node:util";
import { SETTINGS_SPEC } from "../../shared/settings";
import { UsageError } from "./errors";
import { DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS_LIMIT } from "./queue";

/** Where results, dead letters and the queue go when `--out` is not given. */
export const DEFAULT_OUT_DIR = ".fleet";

export interface CliOptions {
  /** The URLs file, or `-` for stdin. */
  readonly urlsFile: string;
  /** Output directory. @default ".fleet" */
  readonly outDir: string;
  /** Pages in flight at once, 1 to 256. @default the settings' `concurrency` */
  readonly concurrency?: number;
  /** The runtime settings JSON file. @default none: the defaults */
  readonly configFile?: string;
  /** Let the SSRF guard allow loopback and private networks. @default false */
  readonly allowPrivateNetworks: boolean;
  /** Deliveries per URL before it is dead-lettered, 1 to 100. @default 5 */
  readonly maxAttempts: number;
  /** Print every page's log line. @default false */
  readonly verbose: boolean;
}

export type ParsedCommand = { readonly kind: "help" } | { readonly kind: "run"; readonly options: CliOptions };

export const USAGE = "usage: npm start -- [--out DIR] [--concurrency N] [--config FILE] [--max-attempts N] [--allow-private-networks] [--verbose] URLS_FILE";

export const HELP = `${USAGE}

Scrapes every URL in URLS_FILE (one per line; blank lines and # comments are
ignored; - reads the list from stdin) with the scrape-fleet core and a durable
SQLite queue. Stop it at any time and run the same command again to resume.
Relative paths are taken from the directory you ran npm in.

Options:
  --out DIR                 where results, dead letters and the queue go (default ${DEFAULT_OUT_DIR})
  --concurrency N           pages in flight at once, 1 to ${SETTINGS_SPEC.concurrency.max} (default: the settings' concurrency, ${SETTINGS_SPEC.concurrency.default})
  --config FILE             runtime settings JSON, the same keys as the clouds' config store
                            (listed in README.md, "Runtime settings"); edits apply while running
  --max-attempts N          deliveries per URL before it is dead-lettered, 1 to ${MAX_ATTEMPTS_LIMIT} (default ${DEFAULT_MAX_ATTEMPTS})
  --allow-private-networks  let the SSRF guard fetch loopback and private addresses (local testing only)
  --verbose                 print a JSON log line for every page; its ms includes the wait
                            for the host's slot (perDomainDelayMs)
  -h, --help                show this help

Output:
  DIR/results/<sha256>.json  one result record per URL (ok or failed)
  DIR/results/batches/*.jsonl  the records instead, many a file, when the setting
                            resultBatchMaxRecords is above 1 (read them with
                            npm run fleet -- results export --local DIR)
  DIR/raw/<sha256>.html.gz   the page's HTML when the setting storeRawHtml is true
  DIR/dead-letters.jsonl     URLs that never got an answer, and lines that are not URLs
  DIR/queue.sqlite           the queue: what is finished and what is left (delete DIR to start over)
  DIR/run.lock               held by the run using DIR; the OS frees it when that run ends

Exit codes: 0 every URL ended as a result or a dead letter; 1 the run could not
finish; 2 usage error (nothing was fetched); 130 stopped by Ctrl-C, 143 stopped
by SIGTERM (run the same command again to resume).`;

export function parseCliArgs(argv: readonly string[]): ParsedCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError(describeParseError(error, argv));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };

  if (positionals.length === 0) {
    throw new UsageError("missing URLS_FILE: pass a text file with one URL per line (or - to read stdin), e.g. npm start -- urls.txt");
  }
  if (positionals.length > 1) {
    throw new UsageError(`expected one URLS_FILE, got ${positionals.length} (${positionals.join(", ")}); put all the URLs in one file, or pass the options before the file`);
  }

  const outDir = values.out ?? DEFAULT_OUT_DIR;
  if (outDir.trim() === "") throw new UsageError('--out must name a directory (given ""); leave it out to use .fleet');
  if (values.config !== undefined && values.config.trim() === "") throw new UsageError('--config must name a JSON file (given ""); leave it out to use the default settings');

  const concurrency = values.concurrency === undefined ? undefined : integerOption("--concurrency", values.concurrency, SETTINGS_SPEC.concurrency.min, SETTINGS_SPEC.concurrency.max);
  const maxAttempts = values["max-attempts"] === undefined ? DEFAULT_MAX_ATTEMPTS : integerOption("--max-attempts", values["max-attempts"], 1, MAX_ATTEMPTS_LIMIT);

  return {
    kind: "run",
    options: {
      urlsFile: positionals[0],
      outDir,
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(values.config === undefined ? {} : { configFile: values.config }),
      allowPrivateNetworks: values["allow-private-networks"] ?? false,
      maxAttempts,
      verbose: values.verbose ?? false,
    },
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: "string" },
      concurrency: { type: "string" },
      config: { type: "string" },
      "max-attempts": { type: "string" },
      "allow-private-networks": { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** The options that take a whole number, with its range. */
const INTEGER_OPTIONS: Readonly<Record<string, { readonly min: number; readonly max: number }>> = {
  "--concurrency": { min: SETTINGS_SPEC.concurrency.min, max: SETTINGS_SPEC.concurrency.max },
  "--max-attempts": { min: 1, max: MAX_ATTEMPTS_LIMIT },
};

function integerRangeMessage(flag: string, text: string, min: number, max: number): string {
  return `${flag} must be an integer from ${min} to ${max} (given ${JSON.stringify(text)})`;
}

function integerOption(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(integerRangeMessage(flag, text, min, max));
  }
  return value;
}

const EXAMPLE_VALUES: Readonly<Record<string, string>> = { "--out": "DIR", "--concurrency": "4", "--config": "settings.json", "--max-attempts": "5" };

/** parseArgs's own messages are about its API; restate them for someone typing a command. */
function describeParseError(error: unknown, argv: readonly string[]): string {
  const code = error instanceof Error && "code" in error ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option ?? message} (a URLS_FILE whose name starts with - goes after --)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (option && /does not take an argument/.test(message)) return `option ${option} takes no value; write just ${option}`;
      if (option && /argument missing/.test(message)) return `option ${option} needs a value, such as ${option} ${EXAMPLE_VALUES[option] ?? "VALUE"}`;
      // A value that starts with a dash, such as --concurrency -1: parseArgs will not guess whether it is a value or an option.
      if (option && /ambiguous/.test(message)) {
        const value = argv[argv.indexOf(option) + 1] ?? "";
        const range = INTEGER_OPTIONS[option];
        if (range) return integerRangeMessage(option, value, range.min, range.max);
        return `option ${option} is followed by ${JSON.stringify(value)}, which reads as an option; give the value as ${option}=${value} if that is what you meant`;
      }
      return message;
    default:
      return message;
  }
}
