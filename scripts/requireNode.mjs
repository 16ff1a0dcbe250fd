/**
 * Checks the running Node.js against `engines.node` in package.json before
 * anything else loads, and says what to install. Without it an older Node
 * fails deep inside a dependency (undici needs APIs Node 20 lacks) with a
 * stack trace, and `engines` alone is only enforced by `npm ci`/`npm install`
 * with engine-strict (https://docs.npmjs.com/cli/v10/configuring-npm/package-json#engines).
 *
 * Run it first: as a preload (`node --import ./scripts/requireNode.mjs ...`,
 * which `npm start` and `npm run demo` use) or on its own (`node
 * scripts/requireNode.mjs && ...`, as `npm test` does). Plain JavaScript with
 * no imports beyond Node's own, so it runs on any Node that can load it.
 */
import { readFileSync } from "node:fs";

const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const range = manifest.engines.node;
const minimum = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range);
if (!minimum) throw new Error(`package.json engines.node must be a ">=X.Y.Z" range (given ${JSON.stringify(range)})`);

const need = minimum.slice(1).map(Number);
const have = process.versions.node.split(".").map(Number);
/** Compares major, then minor, then patch. */
const firstDifference = need.findIndex((part, index) => have[index] !== part);
const older = firstDifference >= 0 && have[firstDifference] < need[firstDifference];

if (older) {
  process.stderr.write(
    `scrape-fleet: this is Node.js ${process.versions.node}, and scrape-fleet needs Node.js ${range.replace(/\s+/g, "")} (package.json "engines").\n` +
      `  Install Node.js ${need.join(".")} or newer from https://nodejs.org/en/download,\n` +
      `  or with a version manager: nvm install ${need[0]} && nvm use ${need[0]}   (or: fnm use --install-if-missing ${need[0]}; volta install node@${need[0]})\n` +
      `  then check with: node --version\n`,
  );
  process.exit(1);
}
