/**
 * `npm run bench`: the scrape core measured side by side with a baseline, in
 * one run, against a page server on 127.0.0.1 in its own process.
 *
 * 1. CPU per page: the core (fetch + extract + result record) against a bare
 *    undici fetch that reads the same ~100 KB gzip pages as text. Target ≤ 2x.
 * 2. Peak RSS at concurrency 16, each side in a fresh process, with V8's
 *    default heap sizing and with a heap capped as in a small function.
 *    Target ≤ 128 MB.
 * 3. Wall time of a 10-message batch against pages answered after 300 ms,
 *    against one such page alone. Target ≤ 1.3x.
 * 4. The whole local fleet (`npm start`'s `main()`: SQLite queue, result
 *    files, progress, start-up included) against a bare fetch of the same
 *    1,800 pages at concurrency 16, each in a fresh process: CPU per page
 *    (target ≤ 2.5x) and peak RSS (target: no higher than the bare fetch's).
 * 5. Cold start (coldStart.ts): each cloud's worker bundle, built as
 *    `pulumi up` builds it, `require`d in fresh processes against a bare
 *    `require("undici")`. Target ≤ 100 ms each.
 *
 * 6. Cost and scaling (ops/): dollars per million pages on each cloud at the
 *    program's default settings and at each `*-prod` stack's, with the seed's
 *    one-page-per-invocation design beside them; the simulator against a real
 *    local run of BENCH_CALIBRATION_PAGES pages (default 20,000: about ten
 *    minutes, paced by 20 hosts at 500 ms); the local load-test curve.
 *
 * Host names `*.bench.example` map to 127.0.0.1 through the tests' stub
 * resolver (tests/support/pages.ts), so nothing outside the machine is
 * resolved or contacted.
 */
import { fork, spawn } from "node:child_process";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { Agent, fetch as undiciFetch } from "undici";
import type { QueueItem } from "../../shared/outcome";
import type { ResultStore, StoredObject } from "../../shared/ports";
import { parseSettings } from "../../shared/settings";
import { createWorker } from "../../shared/worker";
import { FLEET_CONCURRENCY, FLEET_PAGES, fleetUrls, processCost, type ProcessCost } from "./fleetPages";
import { loopbackLookup } from "../support/pages";

const CPU_PAGES = Number(process.env.BENCH_PAGES ?? 300);
const CPU_ROUNDS = 3;
const CPU_CONCURRENCY = 8;
const RSS_PAGES = 400;
const RSS_CONCURRENCY = 16;
const BATCH_SIZE = 10;


const settings = parseSettings({ perDomainDelayMs: 0, respectRobots: false, concurrency: RSS_CONCURRENCY });

/** Keeps only the byte count, so the store itself costs (almost) nothing. */
class CountingStore implements ResultStore {
  bytes = 0;
  async put(object: StoredObject): Promise<void> {
    this.bytes += typeof object.body === "string" ? object.body.length : object.body.byteLength;
  }
}

interface Side {
  run(urls: readonly string[], concurrency: number): Promise<void>;
  close(): Promise<void>;
}

function coreSide(): Side {
  const worker = createWorker({ settings: { get: async () => settings }, results: new CountingStore(), allowPrivateNetworks: true, lookup: loopbackLookup });
  let seq = 0;
  return {
    async run(urls, concurrency) {
      for (let start = 0; start < urls.length; start += concurrency) {
        const items: QueueItem[] = urls.slice(start, start + concurrency).map((url) => ({ id: `m${seq++}`, body: JSON.stringify({ url }), attempt: 1 }));
        const outcomes = await worker.processBatch(items);
        const bad = outcomes.find((o) => o.outcome.kind !== "ok");
        if (bad) throw new Error(`core did not finish a page: ${JSON.stringify(bad)}`);
      }
    },
    close: () => worker.close(),
  };
}

function bareSide(): Side {
  const agent = new Agent({ connect: { lookup: loopbackLookup } });
  return {
    async run(urls, concurrency) {
      for (let start = 0; start < urls.length; start += concurrency) {
        await Promise.all(
          urls.slice(start, start + concurrency).map(async (url) => {
            const response = await undiciFetch(url, { dispatcher: agent, headers: { "accept-encoding": "gzip" } });
            if ((await response.text()).length < 50_000) throw new Error("baseline read a short page");
          }),
        );
      }
    },
    close: () => agent.close(),
  };
}

const pageUrls = (port: number, count: number, offset = 0) =>
  Array.from({ length: count }, (_, i) => `http://site${(i + offset) % 4}.bench.example:${port}/page/${i + offset}`);

async function cpuPerPage(side: Side, port: number): Promise<number> {
  const before = process.cpuUsage();
  await side.run(pageUrls(port, CPU_PAGES), CPU_CONCURRENCY);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / CPU_PAGES;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Child mode: run one side at concurrency 16 in a fresh process and report its peak RSS. */
async function rssChild(kind: "core" | "bare", port: number): Promise<void> {
  const side = kind === "core" ? coreSide() : bareSide();
  await side.run(pageUrls(port, RSS_PAGES), RSS_CONCURRENCY);
  await side.close();
  process.send?.({ maxRssMb: process.resourceUsage().maxRSS / 1024 });
}

/** Child mode: a bare fetch of the fleet's pages in a fresh process, for the whole-fleet comparison. */
async function bareFleetChild(port: number): Promise<void> {
  await bareSide().run(fleetUrls(port), FLEET_CONCURRENCY);
  process.send?.(processCost());
}

/**
 * The fleet side runs as `npm start` does (`node --import tsx`, so its
 * start-up and TypeScript loading count); the bare side runs bundled, its
 * leanest form.
 */
function fleetCost(bundle: string, kind: "fleet" | "bare", port: number): Promise<ProcessCost> {
  return new Promise((resolve, reject) => {
    const child =
      kind === "fleet"
        ? spawn(process.execPath, ["--import", "tsx", join(__dirname, "fleetChild.ts"), String(port)], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
        : fork(bundle, ["--fleet-bare", String(port)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.on("message", (message: ProcessCost) => resolve(message));
    child.on("exit", (code) => (code === 0 ? undefined : reject(new Error(`${kind} child exited ${code}`))));
  });
}

/**
 * The RSS children run this file bundled by esbuild, as a deployed worker runs,
 * so the TypeScript loader's own memory is not counted.
 */
function bundleSelf(): string {
  const outfile = join(__dirname, "..", "..", "dist", "bench", "run.js");
  buildSync({ entryPoints: [__filename], bundle: true, platform: "node", target: "node22", format: "cjs", outfile, logLevel: "error" });
  return outfile;
}

/**
 * V8 sizes its heap from the machine's memory (24 GB here), so an uncapped
 * process lets garbage pile up long before it collects. A function with a
 * few hundred MB runs with a smaller heap; these flags stand for that.
 * https://nodejs.org/api/cli.html#--max-old-space-sizesize-in-mib
 */
const SMALL_FUNCTION_HEAP = ["--max-semi-space-size=2", "--max-old-space-size=64"];

function peakRss(bundle: string, kind: "core" | "bare", port: number, execArgv: readonly string[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(bundle, ["--rss", kind, String(port)], { execArgv: [...execArgv], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    child.on("message", (message: { maxRssMb: number }) => resolve(message.maxRssMb));
    child.on("exit", (code) => (code === 0 ? undefined : reject(new Error(`rss child exited ${code}`))));
  });
}

async function batchLatency(port: number): Promise<{ single: number; batch: number }> {
  const worker = createWorker({ settings: { get: async () => settings }, results: new CountingStore(), allowPrivateNetworks: true, lookup: loopbackLookup });
  const message = (i: number): QueueItem => ({ id: `d${i}`, body: JSON.stringify({ url: `http://d${i}.bench.example:${port}/delayed/${i}` }), attempt: 1 });
  try {
    await worker.processBatch([message(100)]);
    const singles: number[] = [];
    const batches: number[] = [];
    for (let round = 0; round < 5; round++) {
      let started = performance.now();
      await worker.processBatch([message(200 + round)]);
      singles.push(performance.now() - started);
      started = performance.now();
      const outcomes = await worker.processBatch(Array.from({ length: BATCH_SIZE }, (_, i) => message(round * 100 + i)));
      batches.push(performance.now() - started);
      if (outcomes.some((o) => o.outcome.kind !== "ok")) throw new Error("a delayed page did not finish");
    }
    return { single: median(singles), batch: median(batches) };
  } finally {
    await worker.close();
  }
}

function startServer(): Promise<{ port: number; pageBytes: number; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "corpusServer.ts")], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
    child.once("error", reject);
    child.stdout?.once("data", (chunk: Buffer) => {
      const [port, pageBytes] = chunk.toString().trim().split(" ").map(Number);
      resolve({ port, pageBytes, stop: () => child.kill() });
    });
  });
}

function row(metric: string, core: string, baseline: string, ratio: string, target: string, pass: boolean): string {
  return `| ${metric} | ${core} | ${baseline} | ${ratio} | ${target} | ${pass ? "yes" : "NO"} |`;
}

async function main(): Promise<void> {
  if (process.argv[2] === "--rss") return rssChild(process.argv[3] === "core" ? "core" : "bare", Number(process.argv[4]));
  if (process.argv[2] === "--fleet-bare") return bareFleetChild(Number(process.argv[3]));

  const server = await startServer();
  try {
    console.log(`corpus: ${server.pageBytes} bytes per page (gzip on the wire), ${CPU_PAGES} pages x ${CPU_ROUNDS} rounds, node ${process.version}`);
    const core = coreSide();
    const bare = bareSide();
    await core.run(pageUrls(server.port, 40, 1000), CPU_CONCURRENCY);
    await bare.run(pageUrls(server.port, 40, 1000), CPU_CONCURRENCY);
    const coreCpu: number[] = [];
    const bareCpu: number[] = [];
    for (let round = 0; round < CPU_ROUNDS; round++) {
      bareCpu.push(await cpuPerPage(bare, server.port));
      coreCpu.push(await cpuPerPage(core, server.port));
    }
    await core.close();
    await bare.close();

    const bundle = bundleSelf();
    const coreRss = await peakRss(bundle, "core", server.port);
    const bareRss = await peakRss(bundle, "bare", server.port);
    const coreRssSmallHeap = await peakRss(bundle, "core", server.port, SMALL_FUNCTION_HEAP);
    const bareRssSmallHeap = await peakRss(bundle, "bare", server.port, SMALL_FUNCTION_HEAP);
    const latency = await batchLatency(server.port);
    const fleet = await fleetCost(bundle, "fleet", server.port);
    const fleetBare = await fleetCost(bundle, "bare", server.port);

    const cpuRatio = median(coreCpu) / median(bareCpu);
    const batchRatio = latency.batch / latency.single;
    console.log("");
    console.log("| metric | core | baseline | ratio | target | met |");
    console.log("|---|---|---|---|---|---|");
    console.log(row("CPU per page (fetch + extract + record vs bare fetch)", `${median(coreCpu).toFixed(2)} ms`, `${median(bareCpu).toFixed(2)} ms`, `${cpuRatio.toFixed(2)}x`, "≤ 2x", cpuRatio <= 2));
    console.log(row(`peak RSS at concurrency ${RSS_CONCURRENCY}, V8 defaults`, `${coreRss.toFixed(0)} MB`, `${bareRss.toFixed(0)} MB`, `${(coreRss / bareRss).toFixed(2)}x`, "core ≤ 128 MB", coreRss <= 128));
    console.log(
      row(`peak RSS at concurrency ${RSS_CONCURRENCY}, ${SMALL_FUNCTION_HEAP.join(" ")}`, `${coreRssSmallHeap.toFixed(0)} MB`, `${bareRssSmallHeap.toFixed(0)} MB`, `${(coreRssSmallHeap / bareRssSmallHeap).toFixed(2)}x`, "core ≤ 128 MB", coreRssSmallHeap <= 128),
    );
    console.log(row(`${BATCH_SIZE}-message batch vs one page (server waits 300 ms)`, `${latency.batch.toFixed(0)} ms`, `${latency.single.toFixed(0)} ms`, `${batchRatio.toFixed(2)}x`, "≤ 1.3x", batchRatio <= 1.3));
    const fleetCpu = fleet.cpuMs / FLEET_PAGES;
    const fleetBareCpu = fleetBare.cpuMs / FLEET_PAGES;
    const fleetCpuRatio = fleetCpu / fleetBareCpu;
    console.log(
      row(`whole local fleet CPU per page, ${FLEET_PAGES} pages at concurrency ${FLEET_CONCURRENCY}, start-up included`, `${fleetCpu.toFixed(2)} ms`, `${fleetBareCpu.toFixed(2)} ms`, `${fleetCpuRatio.toFixed(2)}x`, "≤ 2.5x", fleetCpuRatio <= 2.5),
    );
    console.log(row("whole local fleet peak RSS, same run", `${fleet.maxRssMb.toFixed(0)} MB`, `${fleetBare.maxRssMb.toFixed(0)} MB`, `${(fleet.maxRssMb / fleetBare.maxRssMb).toFixed(2)}x`, "≤ the bare fetch's", fleet.maxRssMb <= fleetBare.maxRssMb));
  } finally {
    server.stop();
  }
  // Loaded by path, so the RSS children's bundle of this file (bundleSelf) leaves them, the Pulumi program and the cloud SDKs out.
  const { printColdStarts } = require(join(__dirname, "coldStart")) as typeof import("./coldStart");
  printColdStarts();
  const { costAndScaling } = require(join(__dirname, "costAndScaling")) as typeof import("./costAndScaling");
  await costAndScaling();
}


main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
