/**
 * `fleet results export`: streams the results store into JSON Lines or CSV,
 * one record per URL, through the store's own paging. Per-page objects and
 * batch objects are both read, and where a URL has several records (a
 * redelivery written to another batch) only the newest is exported; see
 * shared/resultReader.ts for how memory stays flat-ish.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { resolve } from "node:path";
import type { Writable } from "node:stream";
import { EXIT_HELP, TARGET_HELP, parseCommandArgs } from "../args";
import { OPS_EXIT_CODES, type FleetCommand } from "../command";
import { OpsUsageError } from "../errors";
import { Progress } from "../progress";
import { guarded, printHelp, withBackend } from "../run";
import { newestResults } from "../../shared/resultReader";

const HELP = `usage: npm run fleet -- results export (--stack NAME | --outputs FILE | --local DIR) [options]

Streams every URL's result record (exactly one per URL, ok or failed) from the results store:
per-page records (results/<sha256>.json) and batch objects (results/batches/*.jsonl, written
when the runtime setting resultBatchMaxRecords is above 1). Where a URL has more than one record
(a redelivery), the newest is exported: the later fetchedAt, then the higher attempt.
  aws     S3 ListObjectsV2 over results/, 1,000 keys a page, then GetObject per object
  gcp     Cloud Storage objects.list over results/ (pageToken paging), then one media GET per object
  azure   Blob List Blobs over results/, 5,000 a page, then Get Blob per object
  local   DIR/results/*.json and DIR/results/batches/*.jsonl
Batch objects are read twice (first to find each URL's newest record, then to export it); memory
grows by about 90 bytes per URL found in batch objects, and not at all for per-page records.

Options:
  --out FILE             write here instead of stdout
  --format jsonl|csv     JSON Lines (default: the whole record per line) or CSV with the columns
                         ${"url,status,code,httpStatus,finalUrl,title,contentType,bytesOnWire,fetchMs,fetchedAt,attempt,id"}
  --since TIME           only records fetched at or after TIME (ISO 8601, such as 2026-12-01T00:00:00Z)
  --status ok|failed     only records with this status

${TARGET_HELP}

${EXIT_HELP}`;

/** Unreadable objects or lines named one by one on stderr; past this many, only counted. */
const UNREADABLE_NAMED = 20;

export const CSV_COLUMNS = ["url", "status", "code", "httpStatus", "finalUrl", "title", "contentType", "bytesOnWire", "fetchMs", "fetchedAt", "attempt", "id"] as const;

export const resultsCommand: FleetCommand = {
  name: "results",
  summary: "export the result records as JSON Lines or CSV (streamed)",
  help: HELP,
  run: (args, io) =>
    guarded("results", io, async () => {
      const { values, positionals } = parseCommandArgs("results", args, {
        out: { type: "string", short: "o" },
        format: { type: "string" },
        since: { type: "string" },
        status: { type: "string" },
      });
      if (values.help) return printHelp(io, HELP);
      if (positionals.length !== 1 || positionals[0] !== "export") {
        throw new OpsUsageError(`results has one action, export (given ${positionals.length === 0 ? "none" : positionals.join(" ")}); see \`npm run fleet -- results --help\``);
      }
      const format = values.format ?? "jsonl";
      if (format !== "jsonl" && format !== "csv") throw new OpsUsageError(`--format must be jsonl or csv (given ${JSON.stringify(format)})`);
      const status = values.status;
      if (status !== undefined && status !== "ok" && status !== "failed") throw new OpsUsageError(`--status must be ok or failed (given ${JSON.stringify(status)})`);
      const since = values.since === undefined ? undefined : Date.parse(values.since);
      if (since !== undefined && Number.isNaN(since)) throw new OpsUsageError(`--since must be an ISO 8601 time such as 2026-12-01T00:00:00Z (given ${JSON.stringify(values.since)})`);

      return withBackend(values, io, {}, async (backend) => {
        const out: Writable = values.out === undefined ? io.stdout : createWriteStream(resolve(io.cwd, values.out));
        const progress = new Progress(io.stderr, { unit: "records exported" });
        let unreadable = 0;
        try {
          if (format === "csv") await write(out, `${CSV_COLUMNS.join(",")}\n`);
          for await (const found of newestResults(backend, io.signal)) {
            if (found.kind === "unreadable") {
              unreadable += 1;
              if (unreadable <= UNREADABLE_NAMED) io.stderr.write(`results: left out ${found.object}${found.line === undefined ? "" : ` line ${found.line}`}: not a result record (${found.why})\n`);
              continue;
            }
            const { record } = found;
            if (status !== undefined && record.status !== status) continue;
            if (since !== undefined && !(Date.parse(String(record.fetchedAt)) >= since)) continue;
            await write(out, format === "csv" ? `${csvRow(record)}\n` : `${JSON.stringify(record)}\n`);
            progress.add(1);
          }
        } catch (error) {
          // Ctrl-C aborts the listing or read in flight (the SDKs and the local
          // store take the signal), which rejects with an AbortError: that is
          // the interruption, not a failure of the store.
          if (!io.signal.aborted) throw error;
        } finally {
          progress.stop();
          if (out !== io.stdout) {
            out.end();
            await once(out, "close");
          }
        }
        io.stderr.write(`exported ${progress.done} record(s) from ${backend.description}${values.out ? ` to ${values.out}` : ""}${unreadable > 0 ? `; ${unreadable} object(s) or batch line(s) were not result records and were left out` : ""}\n`);
        if (io.signal.aborted) return OPS_EXIT_CODES.interrupted;
        return unreadable > 0 ? OPS_EXIT_CODES.failed : OPS_EXIT_CODES.ok;
      });
    }),
};

/** Waits for the stream to drain when it asks to, so a slow disk or pipe never buffers the whole export. */
async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, "drain");
}

/** One CSV row (RFC 4180): fields with a comma, quote or line break are quoted, quotes doubled. */
export function csvRow(record: Record<string, unknown>): string {
  const content = record.content;
  const title = typeof content === "object" && content !== null ? (content as Record<string, unknown>).title : undefined;
  return CSV_COLUMNS.map((column) => csvField(column === "title" ? title : record[column])).join(",");
}

function csvField(value: unknown): string {
  if (value === undefined || value === null) return "";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
