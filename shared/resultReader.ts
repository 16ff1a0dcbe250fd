/**
 * Reads a results store back as exactly one record per URL, whichever layout
 * wrote them: per-page objects (`results/<sha256>.json`, overwritten by a
 * redelivery) and batch objects (`results/batches/*.jsonl`, where a
 * redelivered URL adds a line to another object). Where a URL has more than
 * one record, the newest wins: the later `fetchedAt`, then the higher
 * `attempt`; on a full tie, the batch record.
 *
 * Two passes keep memory flat-ish. The first reads only the batch objects
 * (few: one per many pages) and keeps, per URL found there, a 16-byte id and
 * where its newest line is: about 90 bytes of heap a URL (87 MB measured for a
 * million). The second streams the per-page objects, each compared with that
 * map, then the batch objects again, each line yielded only where the map
 * points. Per-page records never enter the map, so a store written without
 * batching reads in the memory it always did.
 */
import { createHash } from "node:crypto";
import { RESULT_BATCH_PREFIX, RESULT_PREFIX } from "./result";

/** What a results store must offer to be read back: any runtime's store behind one listing and one read. */
export interface ResultObjectSource {
  /** The name of every object whose name starts with `prefix`, each once, in any order, page by page. */
  listResultObjects(prefix: string, signal: AbortSignal): AsyncIterable<string>;
  /** One object's bytes, streamed. */
  readResultObject(name: string, signal: AbortSignal): AsyncIterable<Uint8Array | string>;
}

/** What the reader finds: a URL's newest record, or an object or batch line that is not a readable record. */
export type FoundResult =
  | { readonly kind: "record"; readonly record: Readonly<Record<string, unknown>> }
  /** `line` is 1-based, for a batch object's line. */
  | { readonly kind: "unreadable"; readonly object: string; readonly line?: number; readonly why: string };

/**
 * Every URL's newest record, one at a time, and each object or batch line
 * that is not a readable record (not JSON, no `url`; a batch line with no
 * `key`), named so the caller can say what it left out.
 */
export async function* newestResults(source: ResultObjectSource, signal: AbortSignal): AsyncIterable<FoundResult> {
  const newest = new NewestIndex();
  const batches: string[] = [];
  for await (const name of source.listResultObjects(RESULT_BATCH_PREFIX, signal)) {
    if (signal.aborted) return;
    if (!isBatchObject(name)) continue;
    const batch = batches.push(name) - 1;
    let line = 0;
    for await (const text of lines(source.readResultObject(name, signal))) {
      const record = parseRecord(text);
      if (record !== undefined && typeof record.key === "string") newest.offer(record.key, stamp(record), batch, line);
      line += 1;
    }
  }

  for await (const name of source.listResultObjects(RESULT_PREFIX, signal)) {
    if (signal.aborted) return;
    if (!isPerPageObject(name)) continue;
    const record = parseRecord(await text(source.readResultObject(name, signal)));
    if (record === undefined) {
      yield { kind: "unreadable", object: name, why: "not a JSON record with a url" };
      continue;
    }
    if (newest.takeIfNewer(name, stamp(record))) yield { kind: "record", record };
  }

  for (const [batch, name] of batches.entries()) {
    let line = 0;
    for await (const text of lines(source.readResultObject(name, signal))) {
      if (signal.aborted) return;
      const record = parseRecord(text);
      if (record === undefined || typeof record.key !== "string") yield { kind: "unreadable", object: name, line: line + 1, why: record === undefined ? "not a JSON record with a url (a torn write?)" : "no key" };
      else if (newest.isWinner(record.key, batch, line)) yield { kind: "record", record };
      line += 1;
    }
  }
}

/** A per-page record: `results/<name>.json` directly under `results/`. */
export function isPerPageObject(name: string): boolean {
  return name.startsWith(RESULT_PREFIX) && name.endsWith(".json") && !name.slice(RESULT_PREFIX.length).includes("/");
}

/** A batch object: `results/batches/<name>.jsonl`. */
export function isBatchObject(name: string): boolean {
  return name.startsWith(RESULT_BATCH_PREFIX) && name.endsWith(".jsonl") && !name.slice(RESULT_BATCH_PREFIX.length).includes("/");
}

/** How new a record is: `fetchedAt` in epoch ms (unreadable: the oldest), then `attempt`. */
interface Stamp {
  readonly at: number;
  readonly attempt: number;
}

function stamp(record: Readonly<Record<string, unknown>>): Stamp {
  const at = typeof record.fetchedAt === "string" ? Date.parse(record.fetchedAt) : Number.NaN;
  return { at: Number.isNaN(at) ? Number.NEGATIVE_INFINITY : at, attempt: typeof record.attempt === "number" && Number.isFinite(record.attempt) ? record.attempt : 0 };
}

function isNewer(candidate: Stamp, than: Stamp): boolean {
  return candidate.at > than.at || (candidate.at === than.at && candidate.attempt > than.attempt);
}

/** The record's batch and line, or PER_PAGE when the per-page object is newer. */
const PER_PAGE = -1;

/**
 * Per URL seen in a batch object: its newest stamp and where that record is.
 * Keyed by 16 bytes of the key's SHA-256 (a latin1 string of 16 characters;
 * the odds of two URLs sharing one stay below 2^-60 up to billions of URLs);
 * the rest lives in growing typed arrays, so an entry costs no object of its own.
 */
class NewestIndex {
  private readonly slots = new Map<string, number>();
  private at = new Float64Array(1024);
  private attempt = new Float64Array(1024);
  private batch = new Int32Array(1024);
  private line = new Int32Array(1024);

  offer(key: string, stamp: Stamp, batch: number, line: number): void {
    const id = compactId(key);
    const slot = this.slots.get(id);
    if (slot === undefined) {
      const added = this.slots.size;
      this.grow(added + 1);
      this.slots.set(id, added);
      this.put(added, stamp, batch, line);
    } else if (isNewer(stamp, { at: this.at[slot], attempt: this.attempt[slot] })) {
      this.put(slot, stamp, batch, line);
    }
  }

  /** Whether a per-page record is the one to keep for `key`: no batch holds the key, or it is newer than every batch record. */
  takeIfNewer(key: string, stamp: Stamp): boolean {
    if (this.slots.size === 0) return true;
    const slot = this.slots.get(compactId(key));
    if (slot === undefined) return true;
    if (!isNewer(stamp, { at: this.at[slot], attempt: this.attempt[slot] })) return false;
    this.batch[slot] = PER_PAGE;
    return true;
  }

  isWinner(key: string, batch: number, line: number): boolean {
    const slot = this.slots.get(compactId(key));
    return slot !== undefined && this.batch[slot] === batch && this.line[slot] === line;
  }

  private put(slot: number, stamp: Stamp, batch: number, line: number): void {
    this.at[slot] = stamp.at;
    this.attempt[slot] = stamp.attempt;
    this.batch[slot] = batch;
    this.line[slot] = line;
  }

  private grow(size: number): void {
    if (size <= this.at.length) return;
    const length = this.at.length * 2;
    const copy = <T extends Float64Array | Int32Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.at = copy(this.at, new Float64Array(length));
    this.attempt = copy(this.attempt, new Float64Array(length));
    this.batch = copy(this.batch, new Int32Array(length));
    this.line = copy(this.line, new Int32Array(length));
  }
}

function compactId(key: string): string {
  return createHash("sha256").update(key).digest().subarray(0, 16).toString("latin1");
}

/** The text as a result record: a JSON object with a string `url`; undefined otherwise. */
function parseRecord(text: string): Readonly<Record<string, unknown>> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) && typeof (value as Record<string, unknown>).url === "string" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function text(chunks: AsyncIterable<Uint8Array | string>): Promise<string> {
  const decoder = new TextDecoder();
  let result = "";
  for await (const chunk of chunks) result += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
  return result + decoder.decode();
}

/** The non-empty lines of a streamed object, decoded as UTF-8 across chunk boundaries. */
async function* lines(chunks: AsyncIterable<Uint8Array | string>): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of chunks) {
    rest += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = rest.indexOf("\n"); end >= 0; end = rest.indexOf("\n", start)) {
      const line = rest.slice(start, end);
      if (line.trim() !== "") yield line;
      start = end + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.decode();
  if (rest.trim() !== "") yield rest;
}
