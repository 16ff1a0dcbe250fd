/**
 * Cold start of each cloud's worker bundle: the bundle built as `pulumi up`
 * builds it (infra/<cloud>/worker.ts), then `require`d in fresh Node
 * processes, the median of several, beside a bare `require("undici")` as the
 * floor every worker pays. Each process times only the `require`, from its own
 * clock, so Node's own start-up is left out on every side alike.
 */
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { bundleAwsWorker } from "../../infra/aws/worker";
import { bundleAzureWorker } from "../../infra/azure/worker";
import { bundleGcpWorker } from "../../infra/gcp/worker";
import { REPO_ROOT, type Bundle } from "../../infra/bundle";

export interface ColdStart {
  readonly name: string;
  /** Bytes of the bundle file; 0 for the floor. */
  readonly bytes: number;
  /** Bytes of the files it loads on first use (clients.js); 0 for the floor. */
  readonly lazyBytes: number;
  /** Median wall milliseconds to `require` it in a fresh process. */
  readonly medianMs: number;
  /** Median CPU milliseconds (user + system) of the same `require`: less swayed by other load on the machine. */
  readonly medianCpuMs: number;
}

/**
 * Runs in the child: `require`s `target` (resolved from the repository root,
 * where node_modules holds whatever the bundle leaves external, as the
 * function's runtime would) and prints the milliseconds it took.
 */
const TIMER = `const c=process.cpuUsage(),t=process.hrtime.bigint();require(process.argv[1]);const u=process.cpuUsage(c);process.stdout.write(JSON.stringify([Number(process.hrtime.bigint()-t)/1e6,(u.user+u.system)/1e3]))`;

/** Wall and CPU milliseconds of one `require` in a fresh process. */
function requireMs(target: string): [number, number] {
  return JSON.parse(execFileSync(process.execPath, ["-e", TIMER, target], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The floor and each cloud's bundle, `runs` fresh processes each, interleaved so a busy moment of the machine hits every side alike. */
export function measureColdStarts(runs: number): ColdStart[] {
  const sides = [
    { name: "bare require(\"undici\")", target: require.resolve("undici"), bytes: 0, lazyBytes: 0 },
    ...([
      ["AWS", bundleAwsWorker()],
      ["Azure", bundleAzureWorker()],
      ["Google Cloud", bundleGcpWorker()],
    ] as const).map(([name, bundle]: readonly [string, Bundle]) => {
      const [entry, ...rest] = bundle.files.filter((file) => file.name.endsWith(".js"));
      return { name, target: entry.path, bytes: statSync(entry.path).size, lazyBytes: rest.reduce((sum, file) => sum + statSync(file.path).size, 0) };
    }),
  ];
  const times = sides.map(() => [] as [number, number][]);
  for (let run = 0; run < runs; run++) sides.forEach((side, i) => times[i].push(requireMs(side.target)));
  return sides.map((side, i) => ({ name: side.name, bytes: side.bytes, lazyBytes: side.lazyBytes, medianMs: median(times[i].map(([wall]) => wall)), medianCpuMs: median(times[i].map(([, cpu]) => cpu)) }));
}

/** The target per bundle (issue 12, item 16), in wall milliseconds on the bench machine. */
const TARGET_MS = 100;

/** Prints the cold-start table of `npm run bench`: each bundle against the bare undici floor. */
export function printColdStarts(runs = Number(process.env.BENCH_COLD_RUNS ?? 15)): void {
  const [floor, ...bundles] = measureColdStarts(runs);
  console.log("");
  console.log(`cold start: require in a fresh process, median of ${runs} processes each, interleaved`);
  console.log("| bundle | size | loaded on first use | require, wall | require, CPU | floor: bare require(\"undici\"), wall / CPU | wall over the floor | target | met |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const side of bundles) {
    console.log(
      `| ${side.name} | ${(side.bytes / 1e6).toFixed(2)} MB | ${(side.lazyBytes / 1e6).toFixed(2)} MB | ${side.medianMs.toFixed(0)} ms | ${side.medianCpuMs.toFixed(0)} ms | ${floor.medianMs.toFixed(0)} ms / ${floor.medianCpuMs.toFixed(0)} ms | ${side.medianMs >= floor.medianMs ? "+" : "−"}${Math.abs(side.medianMs - floor.medianMs).toFixed(0)} ms | ≤ ${TARGET_MS} ms | ${side.medianMs <= TARGET_MS ? "yes" : "NO"} |`,
    );
  }
}

if (require.main === module) printColdStarts();
