/**
 * The local `ResultStore`: each key is a file under the output directory, so
 * `results/<sha256>.json` lands in `DIR/results/<sha256>.json` and
 * `raw/<sha256>.html.gz` in `DIR/raw/<sha256>.html.gz` — the same layout as
 * the clouds' buckets. Writes are atomic (see atomicFile.ts), and a second put
 * of the same key replaces the first, as the port requires.
 */
import { mkdir } from "node:fs/promises";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import type { ResultStore, StoredObject } from "../../shared/ports";
import { RAW_HTML_PREFIX, RESULT_PREFIX } from "../../shared/result";
import { removeLeftoverTempFiles, writeFileAtomic } from "./atomicFile";

/** The folders keys may go to; anything else is refused. */
const KEY_FOLDERS = [RESULT_PREFIX, RAW_HTML_PREFIX] as const;

export class FileResultStore implements ResultStore {
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
    const counts = await Promise.all(KEY_FOLDERS.map((folder) => removeLeftoverTempFiles(join(this.directory, folder))));
    return counts.reduce((sum, count) => sum + count, 0);
  }
}
