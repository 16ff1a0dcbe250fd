/**
 * The benchmark's whole-local-fleet child: `npm start`'s own `main()` over
 * `FLEET_PAGES` corpus pages, with a real output directory (the durable
 * queue, result files, the progress display writing nowhere), started as
 * `npm start` starts it (`node --import tsx`). It reports the CPU time and
 * peak RSS of the whole process, start-up included, to the parent over IPC.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../functions/local/cli";
import { FLEET_CONCURRENCY, fleetUrls, processCost, type ProcessCost } from "./fleetPages";

async function runFleetChild(port: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "scrape-fleet-bench-"));
  let cost: ProcessCost;
  try {
    writeFileSync(join(dir, "urls.txt"), fleetUrls(port).join("\n"));
    writeFileSync(join(dir, "settings.json"), JSON.stringify({ perDomainDelayMs: 0, respectRobots: false }));
    const quiet = { write: () => true };
    const args = ["--out", join(dir, "out"), "--config", join(dir, "settings.json"), "--concurrency", String(FLEET_CONCURRENCY), "--allow-private-networks", join(dir, "urls.txt")];
    const code = await main(args, { stdout: quiet, stderr: quiet, stdin: process.stdin, signals: process, cwd: dir });
    if (code !== 0) throw new Error(`the fleet exited ${code}`);
    // Read before the clean-up: removing 1,800 result files is the benchmark's cost, not the fleet's.
    cost = processCost();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.send?.(cost, () => process.exit(0));
}

runFleetChild(Number(process.argv[2])).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
