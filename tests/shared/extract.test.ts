import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_META_TEXT, extractPage } from "../../shared/extract";

const FIXTURES = join(__dirname, "..", "fixtures", "pages");

function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

function extract(body: Buffer | string, finalUrl = "https://example.com/food/article.html", maxLinks = 500, charset?: string) {
  return extractPage({ body: typeof body === "string" ? Buffer.from(body) : body, finalUrl, maxLinks, charset });
}

/** What the test expects a reader to see, whitespace collapsed: its length is the expected textLength. */
function visible(text: string): number {
  return [...text].length;
}

describe("extractPage", () => {
  describe("a well-formed article", () => {
    const content = extract(fixture("article.html"));

    it("takes the first title with entities decoded and whitespace collapsed", () => {
      assert.equal(content.title, "Fish & Chips \u2013 a history");
    });

    it("takes the meta description over og:description, matching the name case-insensitively", () => {
      assert.equal(content.description, "How fish and chips came to be.");
    });

    it("resolves the canonical link (rel matched case-insensitively) against the page URL", () => {
      assert.equal(content.canonical, "https://example.com/articles/fish-and-chips");
    });

    it("reads <html lang>", () => {
      assert.equal(content.lang, "en-GB");
    });

    it("keeps absolute http(s) links from <a> and <area>, without fragments, deduplicated in first-seen order", () => {
      assert.deepEqual(content.links, [
        "https://example.com/history",
        "https://example.com/food/recipes/batter.html",
        "https://example.org/elsewhere?x=1&y=2",
        "https://example.com/noscript-link",
        "https://example.com/map-area",
      ]);
      assert.equal(content.linkCount, 5);
    });

    it("skips javascript:, mailto:, tel:, data:, ftp:, fragment-only and unparseable hrefs", () => {
      for (const link of content.links) assert.match(link, /^https?:\/\/[^#]*$/);
    });

    it("counts visible text only: no script, style, noscript, template or title", () => {
      assert.equal(
        content.textLength,
        visible("Fish and chips Read the history, the batter and elsewhere. the history again top js js upper mail phone data ftp broken no href"),
      );
    });
  });

  describe("broken markup", () => {
    const content = extract(fixture("broken.html"), "http://example.fr/dir/");

    it("reads unquoted attributes", () => {
      assert.equal(content.lang, "fr");
      assert.equal(content.description, "unquoted-description");
    });

    it("keeps markup inside <title> as text, as a browser does", () => {
      assert.equal(content.title, "Unclosed <b>bold</b> title");
    });

    it("finds links in unclosed elements, and an SVG <title> is not the page title", () => {
      assert.deepEqual(content.links, ["http://example.fr/one", "http://example.fr/two", "http://example.fr/dir/three.html", "http://example.fr/in-svg"]);
    });

    it("separates block elements, excludes the SVG title and an unclosed script runs to the end", () => {
      assert.equal(content.textLength, visible("One one Two two three item item two svg link"));
    });
  });

  describe("<base href>", () => {
    const content = extract(fixture("base-href.html"), "https://site.example/dir/page");

    it("resolves links against the first <base href>, not the page URL", () => {
      assert.deepEqual(content.links, [
        "https://cdn.example.net/assets/page.html",
        "https://cdn.example.net/root",
        "https://other.example/x",
        "https://upper.example/Path",
        "https://cdn.example.net/assets/?q=1",
      ]);
    });

    it("resolves the canonical link against <base href> too", () => {
      assert.equal(content.canonical, "https://cdn.example.net/assets/canonical.html");
    });

    it("a javascript: <base> is ignored and the page URL is the base", () => {
      const page = extract('<base href="javascript:alert(1)"><a href="next">n</a>', "https://site.example/dir/page");
      assert.deepEqual(page.links, ["https://site.example/dir/next"]);
    });
  });

  it("falls back to og:description when there is no usable meta description", () => {
    const content = extract(fixture("og-only.html"));
    assert.equal(content.description, "Only Open Graph");
    assert.equal(content.title, undefined);
    assert.equal(content.lang, undefined);
    assert.deepEqual(content.links, []);
    assert.equal(content.textLength, 2);
  });

  it("caps links at maxLinks but counts every distinct link in linkCount", () => {
    const html = Array.from({ length: 30 }, (_, index) => `<a href="/p${index % 20}">x</a>`).join("");
    const content = extract(html, "https://example.com/", 5);
    assert.deepEqual(content.links, ["/p0", "/p1", "/p2", "/p3", "/p4"].map((path) => `https://example.com${path}`));
    assert.equal(content.linkCount, 20);
    assert.deepEqual(extract(html, "https://example.com/", 0).links, []);
  });

  it("treats links differing only in their fragment as one link", () => {
    const content = extract('<a href="/a#x">1</a><a href="/a#y">2</a><a href="https://example.com/a">3</a>', "https://example.com/");
    assert.deepEqual(content.links, ["https://example.com/a"]);
    assert.equal(content.linkCount, 1);
  });

  it("skips hrefs whose scheme hides behind whitespace or tabs", () => {
    const content = extract('<a href="  javascript:x()">1</a><a href="java\tscript:x()">2</a><a href=" /ok ">3</a>', "https://example.com/");
    assert.deepEqual(content.links, ["https://example.com/ok"]);
  });

  describe("links match the URL parser for every href", () => {
    const bases = ["https://example.com/dir/page.html?x=1#top", "http://user:secret@h.example/d/", "https://[::1]:8443/a/b", "http://xn--bcher-kva.example"];
    const pieces = ["a", "B", ".", "..", "/", "//", "?", "#", ":", "@", "%", "%2e", "%2E", "'", "\\", " ", "\t", "\n", "\u00e9", "~", "=", "&", ";", "http:", "HTTPS://X.example", "mailto:", "x:"];

    /** What the WHATWG URL parser makes of each href, with the extractor's documented rules applied. */
    function expected(hrefs: readonly string[], base: string): string[] {
      const links = new Set<string>();
      for (const href of hrefs) {
        const trimmed = href.replace(/^[\u0000-\u0020]+/, "");
        if (trimmed === "" || trimmed.startsWith("#")) continue;
        const url = URL.parse(href, base);
        if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
        url.hash = "";
        links.add(url.href.endsWith("#") ? url.href.slice(0, -1) : url.href);
      }
      return [...links];
    }

    function attribute(value: string): string {
      return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    }

    const handPicked = ["/a/./b", "/a/../b", "../up", "./here", "a/b/..", "/a?b=../c", "/a?q='x'", "/%2e%2e/x", "/a%20b", "a:b/c", "a/b:c", "/a:b", "?only", "//host.example/x", "/\\evil.example", "/\t/evil.example", " /lead", "/trail ", "/caf\u00e9", "/a#b/../c", "/.#x", "/x/..#y"];
    for (const base of bases) {
      it(`hand-picked edge cases against ${base}`, () => {
        const html = handPicked.map((href) => `<a href="${attribute(href)}">x</a>`).join("");
        assert.deepEqual(extract(html, base, 10_000).links, expected(handPicked, base));
      });
    }

    it("2,000 generated hrefs against several bases", () => {
      // A fixed linear congruential generator, so a failure reproduces.
      let seed = 12345;
      const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const hrefs = Array.from({ length: 2_000 }, () => Array.from({ length: 1 + Math.floor(next() * 6) }, () => pieces[Math.floor(next() * pieces.length)]).join(""));
      const html = hrefs.map((href) => `<a href="${attribute(href)}">x</a>`).join("");
      for (const base of bases) assert.deepEqual(extract(html, base, 10_000).links, expected(hrefs, base), base);
    });
  });

  it("caps the title and keeps an unclosed title to the end of the document", () => {
    const content = extract(`<title>${"word ".repeat(1000)}`);
    assert.ok(content.title !== undefined && content.title.length <= MAX_META_TEXT && content.title.length > MAX_META_TEXT - 5, `title length ${content.title?.length}`);
    assert.ok(content.title.startsWith("word word"));
  });

  it("decodes a windows-1252 page with the charset the response named", () => {
    const body = Buffer.concat([Buffer.from("<title>Caf"), Buffer.from([0xe9, 0x20, 0x80]), Buffer.from("</title><p>na"), Buffer.from([0xef]), Buffer.from("ve</p>")]);
    const content = extract(body, "https://example.com/", 10, "windows-1252");
    assert.equal(content.title, "Caf\u00e9 \u20ac");
    assert.equal(content.textLength, visible("na\u00efve"));
  });

  it("a large page split across parser chunks yields every link and all text", () => {
    const distinct = 3000;
    const parts = ["<!doctype html><html lang=de><head><title>Large</title></head><body>"];
    for (let index = 0; index < distinct * 2; index++) {
      // Every link twice, in a page well over the 16 KiB chunk size, so tags and text straddle chunk boundaries.
      parts.push(`<div class="row"><p>Row ${index} text &amp; more</p><a href="/item/${index % distinct}?ref=list#r${index}">item ${index}</a></div>\n`);
    }
    parts.push("</body></html>");
    const html = parts.join("");
    assert.ok(html.length > 200_000);

    const content = extract(html, "https://shop.example/list", 500);

    assert.equal(content.title, "Large");
    assert.equal(content.lang, "de");
    assert.equal(content.linkCount, distinct);
    assert.equal(content.links.length, 500);
    assert.equal(content.links[0], "https://shop.example/item/0?ref=list");
    assert.equal(content.links[499], "https://shop.example/item/499?ref=list");
    const expectedText = Array.from({ length: distinct * 2 }, (_, index) => `Row ${index} text & more item ${index}`).join(" ");
    assert.equal(content.textLength, expectedText.length);
  });
});
