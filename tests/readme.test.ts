import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { README_PATH, renderReadme } from "../scripts/docs";

describe("README", () => {
  it("its generated tables match the code (run `npm run docs` after changing settings or error codes)", () => {
    const committed = readFileSync(README_PATH, "utf8");
    assert.equal(committed, renderReadme(committed));
  });

  it("shows the two set-up commands and the test command", () => {
    const readme = readFileSync(README_PATH, "utf8");
    assert.match(readme, /npm ci\s*\nnpm start -- /);
    assert.match(readme, /npm ci\s*\nnpm test/);
  });
});
