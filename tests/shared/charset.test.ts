import { strict as assert } from "node:assert";
import { PRESCAN_BYTES, decodeHtml } from "../../shared/charset";

/** Markup as ASCII with raw bytes spliced in. */
function bytes(...parts: Array<string | number[]>): Buffer {
  return Buffer.concat(parts.map((part) => (typeof part === "string" ? Buffer.from(part, "latin1") : Buffer.from(part))));
}

describe("decodeHtml", () => {
  it("decodes windows-1252 bytes with the charset from Content-Type", () => {
    assert.equal(decodeHtml(bytes("caf", [0xe9], " ", [0x80, 0x93]), "windows-1252"), "caf\u00e9 \u20ac\u201c");
  });

  it("decodes iso-8859-1, latin1 and ascii labels as windows-1252, as browsers do", () => {
    for (const label of ["iso-8859-1", "ISO-8859-1", "latin1", "ascii", "us-ascii"]) {
      assert.equal(decodeHtml(bytes([0x80]), label), "\u20ac", label);
    }
  });

  it("finds <meta charset> in the first 1024 bytes when the header names none", () => {
    assert.equal(decodeHtml(bytes('<html><head><meta charset="shift_jis"><title>', [0x82, 0xa0], "</title>")), '<html><head><meta charset="shift_jis"><title>\u3042</title>');
  });

  it("finds the charset in <meta http-equiv=Content-Type content=...>, skipping commented-out metas", () => {
    const body = bytes('<!-- <meta charset="utf-8"> --><meta http-equiv="content-type" content="text/html; charset=windows-1251">', [0xc4, 0xe0]);
    assert.ok(decodeHtml(body).endsWith("\u0414\u0430"));
  });

  it("ignores a <meta> beyond the first 1024 bytes", () => {
    const body = bytes(" ".repeat(PRESCAN_BYTES), '<meta charset="windows-1252">', [0xe9]);
    assert.ok(decodeHtml(body).endsWith("\ufffd"));
  });

  it("skips a <meta> naming an unknown encoding and takes the next one", () => {
    assert.ok(decodeHtml(bytes("<meta charset=utf-99><meta charset=koi8-r>", [0xc1])).endsWith("\u0430"));
  });

  it("reads a <meta> claiming UTF-16 as UTF-8, since the prescan could read it as ASCII", () => {
    assert.ok(decodeHtml(bytes("<meta charset=utf-16>", [0xc3, 0xa9])).endsWith("\u00e9"));
  });

  it("the header wins over <meta>", () => {
    assert.ok(decodeHtml(bytes("<meta charset=koi8-r>", [0xe9]), "windows-1252").endsWith("\u00e9"));
  });

  it("a byte order mark wins over the header and <meta>, and is not part of the text", () => {
    assert.equal(decodeHtml(bytes([0xef, 0xbb, 0xbf], "<meta charset=koi8-r>", [0xc3, 0xa9]), "windows-1252"), "<meta charset=koi8-r>\u00e9");
    assert.equal(decodeHtml(bytes([0xff, 0xfe], [0x41, 0x00, 0x42, 0x00]), "utf-8"), "AB");
    assert.equal(decodeHtml(bytes([0xfe, 0xff], [0x00, 0x41, 0x00, 0x42])), "AB");
  });

  it("an unknown or bogus label falls back to UTF-8 without throwing", () => {
    for (const label of ["utf-99", "x-evil", "", "iso-2022-kr", "\u0000"]) {
      assert.equal(decodeHtml(bytes([0xc3, 0xa9]), label), "\u00e9", JSON.stringify(label));
    }
  });

  it("invalid UTF-8 becomes U+FFFD instead of throwing", () => {
    assert.equal(decodeHtml(bytes("a", [0xff, 0xc3], "b", [0xed, 0xa0, 0x80])), "a\ufffd\ufffdb\ufffd\ufffd\ufffd");
  });

  it("an empty body decodes to an empty string", () => {
    assert.equal(decodeHtml(Buffer.alloc(0)), "");
    assert.equal(decodeHtml(Buffer.alloc(0), "windows-1252"), "");
  });
});
