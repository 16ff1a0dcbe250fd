import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./support";

describe("local demo (npm run demo)", () => {
  it("scrapes the bundled site end to end and exits by itself: pages ok, a 404, a robots.txt refusal, a redirect", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "functions", "local", "demo.ts")], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    const outDir = /demo: output in (\S+)/.exec(stdout)?.[1];
    if (outDir) await rm(outDir, { recursive: true, force: true });

    assert.equal(code, 0, stderr);
    assert.match(stdout, /loopback, which the fleet's SSRF guard refuses by default; this run passes --allow-private-networks/);
    assert.match(stdout, /all 9 URLs finished/);
    assert.match(stdout, /ok\s+7/);
    assert.match(stdout, /failed\s+2\s+(http_4xx 1, robots_disallowed 1|robots_disallowed 1, http_4xx 1)/);
    assert.match(stdout, /\/about\.html\s+"About Harbor Lane Bakery"/);
    assert.match(stdout, /\/old-blog\s+"The Baker's Blog", \d+ links \(redirected to \/blog\.html\)/);
    assert.match(stdout, /\/menu\.html\s+failed: http_4xx \(HTTP 404\)/);
    assert.match(stdout, /\/private\/staff\.html\s+failed: robots_disallowed/);
  });
});
