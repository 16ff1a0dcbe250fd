/**
 * The enqueue input: one URL or one message JSON object per line (blank lines
 * and `#` comments skipped), read as a stream so a file of millions of lines
 * never sits in memory. Each line is checked with the workers' own message
 * contract (`shared/message.ts`) before anything is sent.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { ScrapeError, describeError } from "../shared/errors";
import { parseMessage, type ScrapeMessage } from "../shared/message";
import { OpsUsageError } from "./errors";

export interface InputLine {
  /** 1-based. */
  readonly line: number;
  readonly text: string;
}

export interface InputSource {
  /** The path as typed, or `stdin`. */
  readonly name: string;
  /** File size in bytes; undefined for stdin. */
  readonly size?: number;
  /** Bytes read so far. */
  bytesRead(): number;
  lines(): AsyncIterable<InputLine>;
}

/** Opens `path` (`-` for stdin). Throws `OpsUsageError` for a missing or unreadable file. */
export async function openInput(path: string, shownAs: string, stdin: Readable): Promise<InputSource> {
  if (path === "-") return fromStream(stdin, "stdin", undefined);
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new OpsUsageError(`${shownAs} is not a file; pass a file of URLs, or - to read stdin`);
    return fromStream(createReadStream(path), shownAs, info.size);
  } catch (error) {
    if (error instanceof OpsUsageError) throw error;
    throw new OpsUsageError(`${shownAs} cannot be read (${describeError(error)}); pass a file of URLs, or - to read stdin`);
  }
}

function fromStream(stream: Readable, name: string, size: number | undefined): InputSource {
  let bytes = 0;
  return {
    name,
    ...(size === undefined ? {} : { size }),
    bytesRead: () => bytes,
    async *lines() {
      stream.on("data", (chunk: Buffer | string) => {
        bytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;
      });
      let line = 0;
      for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
        line += 1;
        yield { line, text };
      }
    },
  };
}

export type ParsedLine = { readonly kind: "skip" } | { readonly kind: "message"; readonly message: ScrapeMessage } | { readonly kind: "invalid"; readonly reason: string };

/**
 * One line as a message: a line starting with `{` is a message JSON object,
 * anything else a URL. The URL must be absolute http(s); the workers would
 * only record anything else as a failure.
 */
export function parseLine(text: string): ParsedLine {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return { kind: "skip" };
  let message: ScrapeMessage;
  try {
    message = parseMessage(trimmed.startsWith("{") ? trimmed : { url: trimmed });
  } catch (error) {
    if (error instanceof ScrapeError) return { kind: "invalid", reason: error.message };
    throw error;
  }
  let url: URL | undefined;
  try {
    url = new URL(message.url);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    return { kind: "invalid", reason: `${JSON.stringify(message.url.slice(0, 200))} is not an absolute http(s) URL; write it as https://host/path` };
  }
  return { kind: "message", message };
}
