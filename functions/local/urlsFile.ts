/**
 * Reading the URLS_FILE: one URL per line, blank lines and `#` comments
 * ignored. Every problem names the line, the value and the fix. A line that is
 * not a URL does not stop the run (it becomes a dead letter); a repeated URL is
 * enqueued once and reported.
 */
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { MAX_MESSAGE_BYTES, encodeMessage } from "../../shared/message";
import { normalizeUrl } from "../../shared/result";
import type { ErrorCode } from "../../shared/errors";
import { UsageError } from "./errors";

/** The name `-` reads the list from standard input. */
export const STDIN_NAME = "-";

export interface UrlLine {
  readonly line: number;
  readonly url: string;
  /** `normalizeUrl(url)`: duplicates share it. */
  readonly key: string;
  /** The queue message for it. */
  readonly body: string;
}

export interface InvalidLine {
  readonly line: number;
  readonly value: string;
  readonly code: ErrorCode;
  /** Names the line, the value and the fix. */
  readonly reason: string;
}

export interface DuplicateLine {
  readonly line: number;
  /** The line the same URL first appeared on. */
  readonly firstLine: number;
  readonly url: string;
}

export interface UrlList {
  /** The file's path, or `stdin`. */
  readonly source: string;
  readonly urls: readonly UrlLine[];
  readonly invalid: readonly InvalidLine[];
  readonly duplicates: readonly DuplicateLine[];
}

/**
 * Reads and parses the list at `path` (`-` for stdin); messages and dead
 * letters name it `name`, the path as the user typed it. Throws `UsageError`
 * for a missing, unreadable or empty file.
 */
export async function readUrlList(path: string, stdin: Readable, name: string = path): Promise<UrlList> {
  const source = path === STDIN_NAME ? "stdin" : name;
  let bytes: Buffer;
  try {
    bytes = path === STDIN_NAME ? await readAll(stdin) : await readFile(path);
  } catch (error) {
    throw new UsageError(describeReadError(path === STDIN_NAME ? STDIN_NAME : name, error));
  }
  const text = decodeUrlList(bytes, source);
  const list = parseUrlList(text, source);
  if (list.urls.length === 0 && list.invalid.length === 0) {
    throw new UsageError(
      `URLS_FILE ${source} has no URLs (${text.trim() === "" ? "it is empty" : "only blank lines and # comments"}); write one absolute http(s) URL per line, such as https://example.com/`,
    );
  }
  return list;
}

export function parseUrlList(text: string, source: string): UrlList {
  const urls: UrlLine[] = [];
  const invalid: InvalidLine[] = [];
  const duplicates: DuplicateLine[] = [];
  const firstSeen = new Map<string, number>();

  text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .forEach((rawLine, index) => {
      const line = index + 1;
      const value = rawLine.trim();
      if (value === "" || value.startsWith("#")) return;
      const body = encodeMessage({ url: value });
      const problem = checkUrl(value, body);
      if (problem) {
        invalid.push({ line, value, code: problem.code, reason: `${source}:${line}: ${problem.reason}` });
        return;
      }
      const key = normalizeUrl(value);
      const first = firstSeen.get(key);
      if (first !== undefined) {
        duplicates.push({ line, firstLine: first, url: value });
        return;
      }
      firstSeen.set(key, line);
      urls.push({ line, url: value, key, body });
    });

  return { source, urls, invalid, duplicates };
}

/** Why the line `value` cannot be queued (its queued message is `body`), or undefined when it can. */
function checkUrl(value: string, body: string): { code: ErrorCode; reason: string } | undefined {
  const quoted = JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
  const bytes = Buffer.byteLength(body);
  if (bytes > MAX_MESSAGE_BYTES) {
    return {
      code: "message_too_large",
      reason: `${quoted} is ${Buffer.byteLength(value)} bytes long, too long to queue (a queued URL can be at most about ${Math.floor(MAX_MESSAGE_BYTES / 1_024)} KB); a line this long is usually pasted data, not a link: check the line`,
    };
  }
  if (/\s/.test(value)) {
    // Whitespace is worth pointing at only when it is all that stands between the line and a URL.
    const reason = URL.canParse(value.replace(/\s+/g, ""))
      ? `${quoted} contains whitespace; put one URL per line and write spaces inside a URL as %20`
      : `${quoted} is not a URL; write one absolute http(s) URL per line`;
    return { code: "url_invalid", reason };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    const guess = /^[\w.-]+\.[a-z]{2,}(?:[/:?#]|$)/i.test(value) ? ` such as https://${value}` : " such as https://example.com/page";
    return { code: "url_invalid", reason: `${quoted} is not an absolute URL; write it with its scheme${guess}` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { code: "url_scheme_not_allowed", reason: `${quoted} uses ${url.protocol}; only http: and https: URLs are scraped` };
  }
  return undefined;
}

function describeReadError(path: string, error: unknown): string {
  const code = error instanceof Error && "code" in error ? error.code : undefined;
  if (path === STDIN_NAME) return `could not read the URLs from stdin: ${error instanceof Error ? error.message : String(error)}`;
  if (code === "ENOENT") return `URLS_FILE ${path} does not exist; pass a text file with one URL per line, or - to read them from stdin`;
  if (code === "EISDIR") return `URLS_FILE ${path} is a directory; pass a text file with one URL per line`;
  if (code === "EACCES") return `URLS_FILE ${path} cannot be read (permission denied); check its permissions`;
  return `URLS_FILE ${path} cannot be read: ${error instanceof Error ? error.message : String(error)}`;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * The list as text, or a `UsageError` when the bytes are not a text file: an
 * image, an archive or a UTF-16 file passed by mistake would otherwise be split
 * into "lines" of garbage and echoed to the terminal one by one.
 */
export function decodeUrlList(bytes: Uint8Array, source: string): string {
  const notAList = (why: string, fix = "pass a text file (UTF-8) with one URL per line"): UsageError =>
    new UsageError(`URLS_FILE ${source} does not look like a URL list (${why}); ${fix}`);
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw notAList("it is UTF-16 text", "save it as UTF-8 (one URL per line) and try again");
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw notAList(`it holds binary data: a NUL byte at offset ${nul}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw notAList("it is not UTF-8 text");
  }
  // Control characters other than tab, CR and LF (and DEL) never belong in a URL list.
  const control = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text);
  if (control) {
    const line = text.slice(0, control.index).split("\n").length;
    throw notAList(`line ${line} holds the control character U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`);
  }
  return text;
}
