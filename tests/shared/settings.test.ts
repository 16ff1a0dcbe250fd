import { strict as assert } from "node:assert";
import { ScrapeError, SettingsError } from "../../shared/errors";
import type { LogLevel } from "../../shared/ports";
import { DEFAULT_SETTINGS, SETTING_KEYS, SettingsCache, UNAVAILABLE_RETRY_MS, parseSettings, parseSettingsDocument, settingsErrorLogger, settingsJsonSchema, type SettingsSource } from "../../shared/settings";

function issuesOf(document: unknown): SettingsError["issues"] {
  try {
    parseSettings(document, "test");
  } catch (error) {
    assert.ok(error instanceof SettingsError);
    return error.issues;
  }
  assert.fail("the document was accepted");
}

describe("runtime settings", () => {
  it("an empty document gives the defaults", () => {
    assert.deepEqual(parseSettings({}), DEFAULT_SETTINGS);
  });

  it("a partial document overrides only its keys", () => {
    const settings = parseSettings({ concurrency: 4, blockedDomains: ["example.org"], enabled: false });
    assert.equal(settings.concurrency, 4);
    assert.deepEqual(settings.blockedDomains, ["example.org"]);
    assert.equal(settings.enabled, false);
    assert.equal(settings.maxRedirects, DEFAULT_SETTINGS.maxRedirects);
  });

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ["an unknown key", { concurency: 4 }, "concurency"],
    ["a string for a number", { concurrency: "4" }, "concurrency"],
    ["a number out of range", { maxRedirects: 50 }, "maxRedirects"],
    ["a fraction", { pageDeadlineMs: 1500.5 }, "pageDeadlineMs"],
    ["a string for a boolean", { enabled: "false" }, "enabled"],
    ["a list with an empty entry", { blockedDomains: ["a.example", ""] }, "blockedDomains"],
    ["a multi-line user agent", { userAgent: "a\nb" }, "userAgent"],
    ["a content type with a line break", { allowedContentTypes: ["text/html\r\nX-Evil: 1"] }, "allowedContentTypes"],
    ["a contact that is not ASCII (it goes into the User-Agent header)", { contact: "ops@例え.jp" }, "contact"],
    ["a user agent with a control character", { userAgent: "bot\u0001" }, "userAgent"],
    ["a content type with a non-ASCII mark", { allowedContentTypes: ["text/html", "text/html ✓"] }, "allowedContentTypes"],
    ["a decoded cap below the wire cap", { maxBodyBytes: 4096, maxDecodedBytes: 2048 }, "maxDecodedBytes"],
  ];
  for (const [what, document, key] of bad) {
    it(`${what} is refused, naming the key \`${key}\``, () => {
      const issues = issuesOf(document);
      assert.equal(issues.length, 1);
      assert.equal(issues[0].key, key);
    });
  }

  it("reports every bad key at once, with the value and the fix in the message", () => {
    assert.throws(() => parseSettings({ concurrency: 0, robots: true }, "settings.json"), (error: unknown) => {
      assert.ok(error instanceof SettingsError);
      assert.deepEqual(error.issues.map((issue) => issue.key), ["concurrency", "robots"]);
      assert.match(error.message, /^settings\.json: `concurrency` must be an integer from 1 to 256 \(given 0\); set a value in range \(default 16\)/);
      assert.match(error.message, /`robots` is not a runtime setting .*use one of: enabled, concurrency/);
      return true;
    });
  });

  it("batched result records are off by default and refuse a window past 1 s, naming the key, the value and the fix", () => {
    assert.deepEqual([DEFAULT_SETTINGS.resultBatchMaxRecords, DEFAULT_SETTINGS.resultBatchWindowMs], [1, 200]);
    assert.equal(parseSettings({ resultBatchMaxRecords: 100, resultBatchWindowMs: 0 }).resultBatchMaxRecords, 100);
    assert.throws(() => parseSettings({ resultBatchMaxRecords: 0, resultBatchWindowMs: 5_000 }, "ssm:/fleet/settings"), (error: unknown) => {
      assert.ok(error instanceof SettingsError);
      assert.match(error.message, /`resultBatchMaxRecords` must be an integer from 1 to 1000 \(given 0\); set a value in range \(default 1\)/);
      assert.match(error.message, /`resultBatchWindowMs` must be an integer from 0 to 1000 \(given 5000\); set a value in range \(default 200\)/);
      return true;
    });
  });

  it("a document that is not an object is refused", () => {
    assert.equal(issuesOf([1, 2])[0].key, "(document)");
  });

  it("a document read as JSON text is parsed, and text that is not JSON is refused naming the source and the fix", () => {
    assert.equal(parseSettingsDocument('{"concurrency": 4}', "store").concurrency, 4);
    assert.throws(() => parseSettingsDocument("{concurrency: 4}", "store"), (error: unknown) => error instanceof SettingsError && /^store: `\(document\)` is not JSON .*write a JSON object/.test(error.message));
  });

  it("the JSON Schema lists every key, refuses unknown ones and carries the ranges", () => {
    const schema = settingsJsonSchema() as { properties: Record<string, { minimum?: number; maximum?: number }>; additionalProperties: boolean };
    assert.deepEqual(Object.keys(schema.properties), SETTING_KEYS);
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual([schema.properties.concurrency.minimum, schema.properties.concurrency.maximum], [1, 256]);
  });
});

describe("settings cache", () => {
  function source(documents: unknown[]): SettingsSource & { reads: number } {
    const state = {
      name: "test-store",
      reads: 0,
      async read() {
        const document = documents[Math.min(state.reads, documents.length - 1)];
        state.reads++;
        if (document instanceof Error) throw document;
        return document;
      },
    };
    return state;
  }

  it("reads once per TTL and picks up a change after it", async () => {
    let clock = 0;
    const store = source([{ concurrency: 2, settingsTtlMs: 60_000 }, { concurrency: 3, settingsTtlMs: 60_000 }]);
    const cache = new SettingsCache({ source: store, now: () => clock });
    assert.equal((await cache.get()).concurrency, 2);
    clock = 59_999;
    assert.equal((await cache.get()).concurrency, 2);
    assert.equal(store.reads, 1);
    clock = 60_000;
    assert.equal((await cache.get()).concurrency, 3);
    assert.equal(store.reads, 2);
  });

  it("keeps the last good settings when the store fails or holds a bad document, and reports why", async () => {
    let clock = 0;
    const errors: unknown[] = [];
    const store = source([JSON.stringify({ concurrency: 5 }), "{not json", { concurrency: 999 }, new Error("store down")]);
    const cache = new SettingsCache({ source: store, now: () => clock, onError: (error) => errors.push(error) });
    assert.equal((await cache.get()).concurrency, 5);
    for (let step = 1; step <= 3; step++) {
      clock += DEFAULT_SETTINGS.settingsTtlMs;
      assert.equal((await cache.get()).concurrency, 5);
    }
    assert.equal(errors.length, 3);
    assert.ok(errors[0] instanceof SettingsError);
    assert.ok(errors[1] instanceof SettingsError && /`concurrency`.*given 999/.test(errors[1].message));
    assert.match(String(errors[2]), /store down/);
  });

  it("a settings error is logged as invalid (with every bad key) or unreadable, naming the source and the fix for its kind", async () => {
    let clock = 0;
    const lines: { level: LogLevel; event: string; fields?: Readonly<Record<string, unknown>> }[] = [];
    const store = source([{ concurrency: 999 }, new Error("store down")]);
    const onError = settingsErrorLogger({ log: (level, event, fields) => lines.push({ level, event, fields }) }, "store:settings", { invalid: "edit the document", unreadable: "grant the read" });
    const cache = new SettingsCache({ source: store, now: () => clock, onError });
    await assert.rejects(cache.get(), ScrapeError);
    clock += UNAVAILABLE_RETRY_MS;
    await assert.rejects(cache.get(), ScrapeError);
    assert.deepEqual(lines.map(({ level, event, fields }) => [level, event, fields?.source, fields?.fix]), [
      ["error", "settings_invalid", "store:settings", "edit the document"],
      ["error", "settings_unreadable", "store:settings", "grant the read"],
    ]);
    assert.deepEqual(lines[0].fields?.issues, [{ key: "concurrency", value: 999, problem: "must be an integer from 1 to 256", fix: "set a value in range (default 16)" }]);
    assert.match(String(lines[0].fields?.error), /`concurrency`.*given 999/);
    assert.equal(lines[1].fields?.issues, undefined);
    assert.match(String(lines[1].fields?.error), /store down/);
  });

  it("fails closed: before its first good read it rejects with settings_unavailable, asks the store again only after UNAVAILABLE_RETRY_MS, and serves the first good document", async () => {
    let clock = 0;
    const errors: unknown[] = [];
    const store = source([new Error("ThrottlingException"), { concurrency: 9, enabled: false }]);
    const cache = new SettingsCache({ source: store, now: () => clock, onError: (error) => errors.push(error) });
    for (const at of [0, UNAVAILABLE_RETRY_MS - 1]) {
      clock = at;
      await assert.rejects(cache.get(), (error) => error instanceof ScrapeError && error.code === "settings_unavailable" && error.kind === "retry" && /test-store.*ThrottlingException/.test(error.message));
    }
    assert.equal(store.reads, 1);
    clock = UNAVAILABLE_RETRY_MS;
    const settings = await cache.get();
    assert.deepEqual([settings.concurrency, settings.enabled], [9, false]);
    assert.equal(store.reads, 2);
    assert.equal(errors.length, 1);
  });

  it("fails closed on an invalid first document too: a paused fleet's typo does not unpause it", async () => {
    const cache = new SettingsCache({ source: source([{ enabled: false, concurrency: 0 }]) });
    await assert.rejects(cache.get(), (error) => error instanceof ScrapeError && error.code === "settings_unavailable" && /`concurrency`/.test(error.message));
  });

  it("concurrent callers share one read", async () => {
    const store = source([{ concurrency: 7 }]);
    const cache = new SettingsCache({ source: store });
    const all = await Promise.all([cache.get(), cache.get(), cache.get()]);
    assert.deepEqual(all.map((s) => s.concurrency), [7, 7, 7]);
    assert.equal(store.reads, 1);
  });
});
