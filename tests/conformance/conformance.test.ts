/**
 * One conformance suite for every handler: each case of cases.ts runs on the
 * AWS, Azure, Google Cloud and local runtimes with the same message, the same
 * settings change (written to each runtime's own config store) and the same
 * expected answer and records. See cases.ts for what each normalised answer
 * is on each runtime, and runtimes.ts for how each delivery is made.
 *
 * The workers run with `allowPrivateNetworks: true` because the page site is
 * on loopback; link-local and cloud-metadata addresses stay refused with the
 * switch on (the 169.254.169.254 case). Host names `*.example` resolve to
 * 127.0.0.1 through an injected resolver.
 */
import { strict as assert } from "node:assert";
import type { ResultRecord } from "../../shared/result";
import { BASE_SETTINGS, CASES, type ExpectedRecord } from "./cases";
import { createRuntimes } from "./runtimes";
import { exampleLookup, startPageSite, type PageSite } from "./site";

/** The fields a case pins down, with the URL the record is keyed by. */
function describeRecord(record: ResultRecord): ExpectedRecord & { readonly url: string } {
  return {
    url: record.url,
    status: record.status,
    ...(record.code === undefined ? {} : { code: record.code }),
    ...(record.httpStatus === undefined ? {} : { httpStatus: record.httpStatus }),
    ...(record.content?.title === undefined ? {} : { title: record.content.title }),
  };
}

describe("handler conformance: the same message and settings change have the same effect on every runtime", function () {
  this.timeout(10_000);
  let site: PageSite;

  before(async () => {
    site = await startPageSite();
  });
  after(async () => {
    await site.close();
  });

  for (const runtime of createRuntimes({ lookup: exampleLookup })) {
    describe(`${runtime.name}, settings from ${runtime.settingsRoute}`, () => {
      before(() => runtime.start());
      after(() => runtime.stop());

      for (const testCase of CASES) {
        it(testCase.policy, async () => {
          const message = testCase.message(site);
          const mark = site.mark();
          const delivery = await runtime.deliver(message, { ...BASE_SETTINGS, ...testCase.settings });
          const context = `${runtime.name} answered ${delivery.native}`;

          assert.deepEqual(delivery.settingsProblems, [], `the settings document did not reach the handler intact (${context})`);
          if (delivery.settingsReads !== undefined) assert.ok(delivery.settingsReads > 0, `the handler never read its settings store (${context})`);
          assert.equal(delivery.answer, testCase.answer, context);
          const expected = testCase.record === undefined ? [] : [{ url: message.url, ...testCase.record }];
          assert.deepEqual(delivery.records.map(describeRecord), expected, `records in the results store (${context})`);
          assert.deepEqual(site.requestsSince(mark), testCase.requests, `paths requested from the page site (${context})`);
        });
      }
    });
  }
});
