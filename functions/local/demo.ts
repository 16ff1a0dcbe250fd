/**
 * `npm run demo`: the local fleet end to end with no internet access. Serves
 * the sample site in `demo-site/` on 127.0.0.1 (a port the OS picks), scrapes
 * it through the same CLI as `npm start` into a temporary directory, and
 * prints the summary and a few extracted titles.
 *
 * The site shows the cases a real crawl meets: interlinked pages, a link to a
 * page that does not exist (404), a page robots.txt disallows, and a redirect.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, relative, resolve, sep } from "node:path";
import { describeError } from "../../shared/errors";
import { resultKey, type ResultRecord } from "../../shared/result";
import { main, processIO, type CliIO } from "./cli";
import { EXIT_CODES, type ExitCode } from "./errors";

const SITE_DIR = join(__dirname, "demo-site");

/** Paths the site answers with a redirect. */
const REDIRECTS: Readonly<Record<string, string>> = { "/old-blog": "/blog.html" };

/** What the demo scrapes: every page, plus the links that end differently. */
const DEMO_PATHS = [
  "/",
  "/about.html",
  "/products.html",
  "/blog.html",
  "/contact.html",
  "/faq.html",
  "/old-blog", // 301 to /blog.html
  "/menu.html", // linked from the home page, but missing: 404
  "/private/staff.html", // Disallow: /private/ in robots.txt
];

/**
 * Settings for a small local site: a short per-host delay keeps the demo
 * quick while still showing pacing; raw HTML is kept so there is something in
 * `raw/` to look at.
 */
const DEMO_SETTINGS = { perDomainDelayMs: 100, storeRawHtml: true, respectRobots: true };

const CONTENT_TYPES: Readonly<Record<string, string>> = { ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8" };

export interface DemoSite {
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves `demo-site/` on 127.0.0.1, port chosen by the OS. */
export async function serveDemoSite(): Promise<DemoSite> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://demo.invalid").pathname;
    const target = REDIRECTS[path];
    if (target) {
      response.writeHead(301, { location: target }).end();
      return;
    }
    const file = resolve(SITE_DIR, `.${path.endsWith("/") ? `${path}index.html` : path}`);
    const type = CONTENT_TYPES[extname(file)];
    // Only files inside the site folder, and only the kinds it holds.
    if (relative(SITE_DIR, file).split(sep).includes("..") || type === undefined) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    stat(file).then(
      (info) => {
        if (!info.isFile()) throw new Error("not a file");
        response.writeHead(200, { "content-type": type, "content-length": info.size });
        createReadStream(file).pipe(response);
      },
      () => response.writeHead(404, { "content-type": "text/plain" }).end("not found"),
    );
  });
  await listen(server);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the demo site has no TCP address");
  return {
    origin: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}

export async function runDemo(io: CliIO = processIO()): Promise<ExitCode> {
  const say = (line: string): void => void io.stdout.write(`${line}\n`);
  const site = await serveDemoSite();
  try {
    const outDir = await mkdtemp(join(tmpdir(), "scrape-fleet-demo-"));
    const urls = DEMO_PATHS.map((path) => `${site.origin}${path}`);
    const urlsFile = join(outDir, "urls.txt");
    const settingsFile = join(outDir, "settings.json");
    await writeFile(urlsFile, `# The demo site's pages, one URL per line.\n${urls.join("\n")}\n`);
    await writeFile(settingsFile, `${JSON.stringify(DEMO_SETTINGS, null, 2)}\n`);

    say(`demo: serving ${relative(process.cwd(), SITE_DIR) || SITE_DIR}/ at ${site.origin}`);
    say("demo: that address is loopback, which the fleet's SSRF guard refuses by default; this run passes --allow-private-networks so it may fetch it (public sites never need it)");
    say(`demo: output in ${outDir}`);
    say(`demo: npm start -- --out ${outDir} --config ${settingsFile} --allow-private-networks ${urlsFile}`);
    say("");

    const code = await main(["--out", outDir, "--config", settingsFile, "--allow-private-networks", urlsFile], io);

    say("");
    say("demo: what was extracted (title, or why there is none):");
    for (const url of urls) say(`  ${url.slice(site.origin.length).padEnd(22)}${await describeResult(outDir, url)}`);
    say("");
    say(`demo: each record is a JSON file named by the URL's SHA-256, e.g. ${join(outDir, resultKey(urls[0]))}`);
    return code;
  } finally {
    await site.close();
  }
}

async function describeResult(outDir: string, url: string): Promise<string> {
  let record: ResultRecord;
  try {
    record = JSON.parse(await readFile(join(outDir, resultKey(url)), "utf8")) as ResultRecord;
  } catch {
    return "(no result record; see dead-letters.jsonl)";
  }
  if (record.status === "failed") return `failed: ${record.code}${record.httpStatus ? ` (HTTP ${record.httpStatus})` : ""}`;
  const redirected = record.finalUrl && record.finalUrl !== url ? ` (redirected to ${new URL(record.finalUrl).pathname})` : "";
  return `${JSON.stringify(record.content?.title ?? "(no title)")}, ${record.content?.linkCount ?? 0} links${redirected}`;
}

function listen(server: Server): Promise<void> {
  return new Promise((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolveListen());
  });
}

if (require.main === module) {
  runDemo().then(
    (code) => void process.stdout.write("", () => process.exit(code)),
    (error: unknown) => {
      process.stderr.write(`demo: failed: ${describeError(error)}\n`);
      process.exit(EXIT_CODES.incomplete);
    },
  );
}
