/**
 * `npm run bench` (second part): the operations command's figures.
 *
 * 1. Enqueue throughput, messages per second from one process: to a local
 *    fleet's SQLite queue, and to SQS through the real SDK client against
 *    fauxqs on loopback (an emulator: the figure is the command's own cost
 *    plus a fast server, not what a real SQS endpoint's latency allows).
 * 2. Export memory: peak RSS of `results export` over 10,000 and 100,000
 *    local records, each in a fresh process. Target: flat (the larger within
 *    1.25x of the smaller).
 * 3. The local fleet operated end to end at 10,000 URLs (enqueue, run,
 *    dead-letter 200, redrive, run, export), every count checked.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { main as fleet } from "../../ops/cli";
import type { CommandIo } from "../../ops/command";
import { resultKey } from "../../shared/result";
import { loadFauxqs } from "../ops/awsFakes";
import { runLocalScenario } from "../ops/localScenario";

const ENQUEUE_URLS = Number(process.env.BENCH_ENQUEUE_URLS ?? 20_000);
const EXPORT_RECORDS = Number(process.env.BENCH_EXPORT_RECORDS ?? 100_000);
const EXPORT_SIZES = [EXPORT_RECORDS / 10, EXPORT_RECORDS] as const;
const SCENARIO_URLS = Number(process.env.BENCH_SCENARIO_URLS ?? 10_000);

function quietIo(cwd: string): CommandIo & { err(): string } {
  let err = "";
  const stderr = new PassThrough();
  stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  const stdout = new PassThrough();
  stdout.resume();
  const stdin = new PassThrough();
  stdin.end();
  return { stdin, stdout, stderr, env: process.env, cwd, signal: new AbortController().signal, err: () => err };
}

async function run(args: string[], cwd: string): Promise<void> {
  const io = quietIo(cwd);
  const code = await fleet(args, io);
  if (code !== 0) throw new Error(`fleet ${args.join(" ")} exited ${code}: ${io.err()}`);
}

async function timedEnqueue(dir: string, target: string[]): Promise<number> {
  const file = join(dir, `urls-${target.join("-").replaceAll("/", "_")}.txt`);
  await writeFile(file, Array.from({ length: ENQUEUE_URLS }, (_, index) => `https://site.example/page/${index}`).join("\n"));
  const startedAt = performance.now();
  await run(["enqueue", file, ...target], dir);
  return ENQUEUE_URLS / ((performance.now() - startedAt) / 1_000);
}

async function awsEnqueueRate(dir: string): Promise<number> {
  const fauxqs = await loadFauxqs().startFauxqs({ port: 0, logger: false });
  const saved = { ...process.env };
  try {
    const queue = fauxqs.createQueue("bench-work");
    Object.assign(process.env, { AWS_ENDPOINT_URL_SQS: fauxqs.address, AWS_ACCESS_KEY_ID: "AKIDBENCH", AWS_SECRET_ACCESS_KEY: "bench", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" });
    const outputs = { cloud: "aws", workQueueUrl: queue.queueUrl, workQueueId: queue.queueArn, deadLetterQueueUrl: queue.queueUrl, workerName: "w", resultsBucket: "b", configLocation: "/p", dashboardUrl: "d", alertChannel: "a" };
    await writeFile(join(dir, "outputs.json"), JSON.stringify(outputs));
    return await timedEnqueue(dir, ["--outputs", "outputs.json"]);
  } finally {
    process.env = saved;
    await fauxqs.stop();
  }
}

/** A local fleet folder with `count` result records. */
async function fillResults(dir: string, count: number): Promise<void> {
  await mkdir(join(dir, "results"), { recursive: true });
  // An empty enqueue creates the fleet's folder and queue.
  await writeFile(join(dir, "none.txt"), "");
  await run(["enqueue", "none.txt", "--local", dir], dir);
  for (let start = 0; start < count; start += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - start) }, (_, offset) => {
        const url = `https://site.example/r/${start + offset}`;
        const record = { schema: "scrape-fleet/result@1", key: resultKey(url), url, status: "ok", httpStatus: 200, finalUrl: url, content: { title: `Page ${start + offset}`, links: [], linkCount: 0, textLength: 1200 }, fetchedAt: new Date().toISOString(), attempt: 1 };
        return writeFile(join(dir, resultKey(url)), JSON.stringify(record));
      }),
    );
  }
}

/** Peak RSS in MB of `results export` over `dir`, in a fresh process. */
function exportPeakRss(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--import", "tsx", __filename, "--export-child", dir], { maxBuffer: 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(error);
      resolve(Number(stdout.trim()) / 1024);
    });
  });
}

async function exportChild(dir: string): Promise<void> {
  await run(["results", "export", "--local", dir, "--out", "/dev/null"], dir);
  // maxRSS is in kilobytes (getrusage ru_maxrss on Linux).
  process.stdout.write(`${process.resourceUsage().maxRSS}\n`);
}

async function main(): Promise<void> {
  if (process.argv[2] === "--export-child") return exportChild(process.argv[3] ?? "");
  const dir = await mkdtemp(join(tmpdir(), "fleet-bench-"));
  try {
    const localRate = await timedEnqueue(dir, ["--local", join(dir, "enqueue-fleet")]);
    const awsRate = await awsEnqueueRate(dir);
    const rss: number[] = [];
    for (const size of EXPORT_SIZES) {
      const folder = join(dir, `export-${size}`);
      await fillResults(folder, size);
      rss.push(await exportPeakRss(folder));
      await rm(folder, { recursive: true, force: true });
    }
    const scenario = await runLocalScenario(SCENARIO_URLS);

    const [small = 0, large = 0] = rss;
    console.log("");
    console.log("| operations metric | figure | target | met |");
    console.log("|---|---|---|---|");
    console.log(`| enqueue ${ENQUEUE_URLS} URLs to a local fleet (SQLite) | ${localRate.toFixed(0)} msg/s | – | – |`);
    console.log(`| enqueue ${ENQUEUE_URLS} URLs to SQS (SDK client, fauxqs on loopback) | ${awsRate.toFixed(0)} msg/s | – | – |`);
    console.log(`| results export peak RSS, ${EXPORT_SIZES[0]} vs ${EXPORT_SIZES[1]} records | ${small.toFixed(0)} MB vs ${large.toFixed(0)} MB | flat (≤ 1.25x) | ${large <= small * 1.25 ? "yes" : "NO"} |`);
    console.log(
      `| local end to end, ${SCENARIO_URLS} URLs (counts checked) | enqueue ${(scenario.enqueue ?? 0).toFixed(0)} ms, runs ${((scenario.run ?? 0) / 1000).toFixed(1)} s, redrive ${(scenario.redrive ?? 0).toFixed(0)} ms, export ${((scenario.export ?? 0) / 1000).toFixed(1)} s | counts add up | yes |`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
