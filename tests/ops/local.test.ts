import { runLocalScenario } from "./localScenario";

describe("fleet on a local fleet, end to end (loopback server, real SQLite queue)", function () {
  this.timeout(60_000);

  it("enqueue 1,000 URLs, run, dead-letter 20, redrive them, run again, export: the counts add up exactly (npm run bench runs 10,000)", async () => {
    await runLocalScenario(1_000);
  });
});
