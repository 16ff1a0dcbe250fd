/**
 * The records per batch object that `cost` assumes (ops/cost/model.ts
 * `resultBatching`) against a real local fleet run: the same pages through
 * the real fleet (functions/local/cli.ts in a process of its own) with one
 * object a record, which gives the mean page time, then with batching on,
 * counting the objects it wrote. The local fleet keeps a page's slot until
 * its batch object lands, as an Azure or Google Cloud instance keeps an
 * execution, so this is the case the model's steady state describes.
 */
import assert from "node:assert/strict";
import { resultBatching } from "../../ops/cost/model";
import { runLocalFleet } from "../../ops/loadtest/fleetRun";
import { startProfileSite, type ProfileSite } from "../../ops/loadtest/site";
import { DEFAULT_SETTINGS, parseSettings } from "../../shared/settings";

/** Pages spread over a range much wider than the window, as real sites' are: the model's steady state. */
const SPREAD = { latencyMs: { min: 20, max: 300 }, failureRate: 0, hosts: 20 } as const;
/** Pages that all take about as long as the window: each cohort of slots finishes inside one window. */
const NARROW = { latencyMs: { min: 60, max: 100 }, failureRate: 0, hosts: 20 } as const;

describe("batched result records: the cost model's records per object against a real local run", function () {
  this.timeout(60_000);
  const sites: ProfileSite[] = [];
  after(() => Promise.all(sites.map((site) => site.close())));
  const urlsOn = async (profile: typeof SPREAD | typeof NARROW, pages: number) => {
    const site = await startProfileSite({ profile, pageBytes: 4_000 });
    sites.push(site);
    return Array.from({ length: pages }, (_, n) => site.url(n));
  };
  const concurrency = 32;
  const predict = (windowMs: number, pageMs: number) => resultBatching(parseSettings({ ...DEFAULT_SETTINGS, resultBatchMaxRecords: 100, resultBatchWindowMs: windowMs }), concurrency, pageMs).recordsPerObject;

  it("predicts within 15 % the objects a run writes when page times spread wider than the window", async () => {
    const pages = 300;
    const urls = await urlsOn(SPREAD, pages);
    const baseline = await runLocalFleet({ urls, concurrency, perDomainDelayMs: 0 });
    assert.deepEqual([baseline.ok, baseline.recordObjects], [pages, pages], "one object a record");
    const meanPageMs = baseline.pageMs.reduce((total, ms) => total + ms, 0) / baseline.pageMs.length;

    const batched = await runLocalFleet({ urls: urls.map((url) => `${url}?batched`), concurrency, perDomainDelayMs: 0, settings: { resultBatchMaxRecords: 100, resultBatchWindowMs: 50 } });
    assert.equal(batched.ok, pages);
    const measured = pages / batched.recordObjects;
    const predicted = predict(50, meanPageMs);
    const report = `${batched.recordObjects} objects: ${measured.toFixed(1)} records an object measured, ${predicted.toFixed(1)} predicted (pages ${meanPageMs.toFixed(0)} ms)`;
    assert.ok(Math.abs(measured / predicted - 1) <= 0.15, report);
    assert.ok(measured < concurrency / 2, `slots waiting for their object fetch nothing, so a short window gathers far fewer than ${concurrency}: ${report}`);
  });

  it("errs towards more writes when pages take about the window: the slots finish in cohorts and fill each object", async () => {
    const pages = 250;
    const batched = await runLocalFleet({ urls: await urlsOn(NARROW, pages), concurrency, perDomainDelayMs: 0, settings: { resultBatchMaxRecords: 100, resultBatchWindowMs: 100 } });
    assert.equal(batched.ok, pages);
    const measured = pages / batched.recordObjects;
    // The site's own times, without the fleet's overhead: the model's most generous figure.
    const predicted = predict(100, (NARROW.latencyMs.min + NARROW.latencyMs.max) / 2);
    assert.ok(measured >= predicted, `${measured.toFixed(1)} records an object measured, ${predicted.toFixed(1)} predicted`);
  });
});
