/**
 * The local `ResultStore`: each key is a file under the output directory, so
 * `results/<sha256>.json` lands in `DIR/results/<sha256>.json`,
 * `results/batches/<time>-<random>.jsonl` in `DIR/results/batches/` and
 * `raw/<sha256>.html.gz` in `DIR/raw/<sha256>.html.gz` — the same layout as
 * the clouds' buckets. Writes are atomic (see atomicFile.ts), and a second put
 * of the same key replaces the first, as the port requires. It reads back
 * as a `ResultObjectSource`, for `results export` and for a run that lost its queue.
 */
import type { Dir } from "node:fs";
import { mkdir, open, opendir } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import type { ResultStore, StoredObject } from "../../shared/ports";
import { RAW_HTML_PREFIX, RESULT_BATCH_PREFIX, RESULT_PREFIX } from "../../shared/result";
import type { ResultObjectSource } from "../../shared/resultReader";
import { TEMP_SUFFIX, removeLeftoverTempFiles, writeFileAtomic } from "./atomicFile";

/** The folders keys may go to; anything else is refused. */
const KEY_FOLDERS = [RESULT_PREFIX, RAW_HTML_PREFIX] as const;
const READ_CHUNK_BYTES = 64 * 1024;
/** The folders a sweep cleans of a killed run's temporary files. */
const WRITTEN_FOLDERS = [RESULT_PREFIX, RESULT_BATCH_PREFIX, RAW_HTML_PREFIX] as const;

export class FileResultStore implements ResultStore, ResultObjectSource {
  private readonly createdFolders = new Set<string>();

  /** @param directory the run's output directory (`--out`). */
  constructor(readonly directory: string) {}

  async put(object: StoredObject): Promise<void> {
    const path = this.pathOf(object.key);
    const folder = dirname(path);
    if (!this.createdFolders.has(folder)) {
      await mkdir(folder, { recursive: true });
      this.createdFolders.add(folder);
    }
    await writeFileAtomic(path, object.body);
  }

  /** The file a key is written to. Throws for a key that would leave the known folders. */
  pathOf(key: string): string {
    const relative = normalize(key);
    const inKnownFolder = KEY_FOLDERS.some((folder) => relative.startsWith(folder.replace("/", sep)));
    if (isAbsolute(key) || relative.split(sep).includes("..") || !inKnownFolder) {
      throw new RangeError(`result key ${JSON.stringify(key)} is not under ${KEY_FOLDERS.join(" or ")}; keys come from resultKey() / rawHtmlKey()`);
    }
    return join(this.directory, relative);
  }

  /** Removes temporary files a killed run left behind. Call once at start, while this run owns the directory. */
  async sweep(): Promise<number> {
    const counts = await Promise.all(WRITTEN_FOLDERS.map((folder) => removeLeftoverTempFiles(join(this.directory, folder))));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** The files under the prefix's folder and its subfolders, read in chunks so a million records are never listed at once. */
  async *listResultObjects(prefix: string, signal: AbortSignal): AsyncIterable<string> {
    yield* listFolder(this.pathOf(prefix), prefix, signal);
  }

  /** The file in chunks of up to 64 KiB: a record is one read, a batch of a thousand records never wholly in memory. */
  async *readResultObject(name: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    // A file handle read by hand: a read stream costs more than the read itself on a file of a few KB.
    const handle = await open(this.pathOf(name), "r");
    try {
      for (;;) {
        signal.throwIfAborted();
        const { bytesRead, buffer } = await handle.read({ buffer: Buffer.allocUnsafe(READ_CHUNK_BYTES) });
        if (bytesRead > 0) yield buffer.subarray(0, bytesRead);
        // A regular file reads short only at its end (pread(2)), and files here are renamed in whole, so a record takes one read.
        if (bytesRead < READ_CHUNK_BYTES) return;
      }
    } finally {
      await handle.close();
    }
  }
}

async function* listFolder(folder: string, prefix: string, signal: AbortSignal): AsyncIterable<string> {
  let dir: Dir;
  try {
    dir = await opendir(folder, { bufferSize: 256 });
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return;
    throw error;
  }
  for await (const entry of dir) {
    if (signal.aborted) return;
    if (entry.isDirectory()) yield* listFolder(join(folder, entry.name), `${prefix}${entry.name}/`, signal);
    // A temporary file is a write still under way (or a killed run's): not an object yet.
    else if (entry.isFile() && !entry.name.endsWith(TEMP_SUFFIX)) yield `${prefix}${entry.name}`;
  }
}
