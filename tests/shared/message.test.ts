import { strict as assert } from "node:assert";
import { ScrapeError, kindOf, type ErrorCode } from "../../shared/errors";
import { MAX_MESSAGE_BYTES, encodeMessage, parseMessage } from "../../shared/message";

function codeOf(body: unknown): ErrorCode {
  try {
    parseMessage(body);
  } catch (error) {
    assert.ok(error instanceof ScrapeError, `expected a ScrapeError, got ${String(error)}`);
    return error.code;
  }
  assert.fail("the message was accepted");
}

describe("message contract", () => {
  it("reads a minimal message from text, bytes or an object and defaults v and depth", () => {
    for (const body of ['{"url":"https://example.com/"}', Buffer.from('{"url":"https://example.com/"}'), { url: "https://example.com/" }]) {
      assert.deepEqual(parseMessage(body), { v: 1, url: "https://example.com/", depth: 0 });
    }
  });

  it("keeps id, depth and metadata", () => {
    const message = parseMessage(encodeMessage({ url: " https://example.com/a ", id: "job-7", depth: 2, metadata: { crawl: "spring", priority: 3, fresh: true } }));
    assert.deepEqual(message, { v: 1, url: "https://example.com/a", id: "job-7", depth: 2, metadata: { crawl: "spring", priority: 3, fresh: true } });
  });

  const malformed: Array<[string, unknown, string]> = [
    ["text that is not JSON", "https://example.com/", "message_not_json"],
    ["a JSON array", "[1,2]", "message_not_object"],
    ["JSON null", "null", "message_not_object"],
    ["no url", '{"id":"x"}', "message_missing_url"],
    ["an empty url", '{"url":"  "}', "message_missing_url"],
    ["a numeric url", '{"url":42}', "message_missing_url"],
    ["an unknown version", '{"v":2,"url":"https://example.com/"}', "message_unsupported_version"],
    ["an unknown field", '{"url":"https://example.com/","priority":1}', "message_invalid_field"],
    ["a negative depth", '{"url":"https://example.com/","depth":-1}', "message_invalid_field"],
    ["a fractional depth", '{"url":"https://example.com/","depth":1.5}', "message_invalid_field"],
    ["nested metadata", '{"url":"https://example.com/","metadata":{"a":{"b":1}}}', "message_invalid_field"],
    ["a numeric id", '{"url":"https://example.com/","id":7}', "message_invalid_field"],
    ["an oversized body", JSON.stringify({ url: "https://example.com/", metadata: { pad: "x".repeat(MAX_MESSAGE_BYTES) } }), "message_too_large"],
  ];
  for (const [what, body, code] of malformed) {
    it(`a message with ${what} is malformed with code ${code}`, () => {
      const actual = codeOf(body);
      assert.equal(actual, code);
      assert.equal(kindOf(actual), "malformed");
    });
  }

  it("names the field and the fix in the error", () => {
    assert.throws(() => parseMessage('{"url":"https://example.com/","depth":"deep"}'), /`depth` must be an integer from 0 to 100 \(given "deep"\)/);
    assert.throws(() => parseMessage('{"url":"https://example.com/","priority":1}'), /`priority`.*put caller data under `metadata`/);
  });

  it("leaves URL policy to the fetch step, so a bad URL is recorded under its key", () => {
    assert.equal(parseMessage('{"url":"ftp://example.com/x"}').url, "ftp://example.com/x");
  });
});
