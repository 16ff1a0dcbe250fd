/**
 * The benchmark's page server, run in its own process so its CPU time is not
 * counted against the code being measured. Listens on 127.0.0.1 only and
 * prints its port on stdout.
 *
 * Routes: `/page/<n>` a ~100 KB HTML page with hundreds of links (gzip when the
 * client accepts it), `/delayed/<n>` a small page answered after `DELAY_MS`.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";

const DELAY_MS = Number(process.env.DELAY_MS ?? 300);
const PAGE_VARIANTS = 32;

function buildPage(n: number): string {
  const parts: string[] = [`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Corpus page ${n}</title>`];
  parts.push(`<meta name="description" content="Benchmark page ${n} with many links and paragraphs."><link rel="canonical" href="/page/${n}"></head><body>`);
  parts.push(`<nav>${Array.from({ length: 60 }, (_, i) => `<a href="/section/${i}">Section ${i}</a>`).join(" ")}</nav>`);
  for (let p = 0; parts.join("").length < 100_000; p++) {
    const links = Array.from({ length: 8 }, (_, i) => `<a href="/article/${n}-${p}-${i}?ref=corpus">article ${p}.${i}</a>`).join(", ");
    parts.push(`<p class="text">Paragraph ${p} of page ${n}: lorem ipsum dolor sit amet, consectetur adipiscing elit &amp; sed do eiusmod tempor. ${links}</p>`);
    if (p % 10 === 0) parts.push(`<script>window.metrics=${JSON.stringify({ p, n })};</script><style>.text{margin:${p}px}</style>`);
  }
  parts.push("</body></html>");
  return parts.join("");
}

const pages = Array.from({ length: PAGE_VARIANTS }, (_, n) => {
  const html = Buffer.from(buildPage(n));
  return { html, gzip: gzipSync(html) };
});

const server = createServer((req, res) => {
  const [, kind, id] = (req.url ?? "/").split("/");
  const page = pages[Number(id) % PAGE_VARIANTS] ?? pages[0];
  if (kind === "page") {
    const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...(gzip ? { "content-encoding": "gzip" } : {}) });
    res.end(gzip ? page.gzip : page.html);
  } else if (kind === "delayed") {
    setTimeout(() => res.writeHead(200, { "content-type": "text/html" }).end(`<title>delayed ${id}</title>`), DELAY_MS);
  } else {
    res.writeHead(404).end();
  }
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${(server.address() as AddressInfo).port} ${pages[0].html.byteLength}\n`);
});
process.on("disconnect", () => process.exit(0));
