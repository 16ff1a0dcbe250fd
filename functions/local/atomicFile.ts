/**
 * Whole-file writes that a crash cannot tear: the bytes go to a temporary file
 * in the same directory, are flushed, and the file is renamed over the target.
 * rename(2) replaces the target atomically, so a reader (or the next run after
 * kill -9) sees the old file or the new one, never half of one.
 * https://man7.org/linux/man-pages/man2/rename.2.html
 */
import { open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Temporary files end with this, so a sweep can find the ones a killed run left behind. */
export const TEMP_SUFFIX = ".partial";

/** Numbers this process's temporary files: with the PID, unique without drawing random bytes for every page. */
let tempCount = 0;

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  tempCount += 1;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${tempCount}${TEMP_SUFFIX}`);
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(data);
    // Flush before the rename so a power loss cannot leave a renamed but empty file.
    await handle.datasync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Deletes temporary files a killed run left in `directory`. Only call while no other run writes there. */
export async function removeLeftoverTempFiles(directory: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return 0;
    throw error;
  }
  const leftovers = names.filter((name) => name.startsWith(".") && name.endsWith(TEMP_SUFFIX));
  await Promise.all(leftovers.map((name) => rm(join(directory, name), { force: true })));
  return leftovers.length;
}
