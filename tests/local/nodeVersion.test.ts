/**
 * The Node.js version check that runs before anything else under `npm start`,
 * `npm run demo` and `npm test`. The machine's own Node (the system's
 * /usr/bin/node) plays the older Node when it is older than package.json's
 * `engines.node`, as on the machine this was written on (Node 20).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "./support";

const SYSTEM_NODE = "/usr/bin/node";
const required = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;

function systemNodeVersion(): string | undefined {
  if (!existsSync(SYSTEM_NODE)) return undefined;
  return execFileSync(SYSTEM_NODE, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
}

function isOlder(version: string, minimum: string): boolean {
  const have = version.split(".").map(Number);
  const need = minimum.replace(/^>=\s*/, "").split(".").map(Number);
  const index = need.findIndex((part, i) => have[i] !== part);
  return index >= 0 && (have[index] ?? 0) < (need[index] ?? 0);
}

describe("Node.js version check", () => {
  it("the Node running the tests passes it", () => {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, "scripts", "requireNode.mjs")], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, "");
  });

  for (const script of [["start", "--", "urls.txt"], ["run", "demo"], ["test"]]) {
    it(`an older Node is told what to install under npm ${script.join(" ")}, before anything loads`, function () {
      const version = systemNodeVersion();
      // Only a machine with an older Node can show this; newer machines have nothing to test here.
      if (version === undefined || !isOlder(version, required)) this.skip();
      const result = spawnSync("npm", script, { cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, PATH: `${dirname(SYSTEM_NODE)}:${process.env.PATH ?? ""}` } });
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`this is Node\\.js ${version!.replace(/\./g, "\\.")}, and scrape-fleet needs Node\\.js >=22\\.19\\.0`));
      assert.match(result.stderr, /Install Node\.js 22\.19\.0 or newer from https:\/\/nodejs\.org/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
    });
  }
});
