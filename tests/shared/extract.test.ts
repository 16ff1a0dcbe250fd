import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "htmlparser2";
import { decodeHtml } from "../../shared/charset";
import { MAX_META_TEXT, extractPage } from "../../shared/extract";
import type { PageContent } from "../../shared/result";
import { generateDocument } from "../support/generatedPages";
import { BLOCK, NON_VISIBLE, normalizeMeta, pageContent } from "../support/extractOracle";

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

  it("reads a CDATA section outside SVG as a browser does: a comment up to its first `>`, the rest visible text", () => {
    assert.equal(extract("<p><![CDATA[ hidden > shown ]]></p>").textLength, visible("shown ]]>"));
    assert.equal(extract("<svg><text><![CDATA[ a > b ]]></text></svg>").textLength, visible("a > b"));
  });

  it("decodes a reference right after `<` in the title", () => {
    assert.equal(extract("<title>a<&amp;b</title>").title, "a<&b");
  });

  describe("takes nothing a browser would not put in the document", () => {
    it("reads a script that writes a script tag inside `<!--` as one script: no title, links or text from inside it", () => {
      const html = [
        "<html><head><script><!--",
        `document.write('<script src="/ad.js"></script><title>Ad</title><a href="/ad-click">ad text</a>');`,
        "--></script><title>Real</title></head><body><p>Hello</p></body></html>",
      ].join("\n");
      const content = extract(html, "https://example.com/");
      assert.equal(content.title, "Real");
      assert.deepEqual(content.links, []);
      assert.equal(content.textLength, visible("Hello"));
    });

    it("ignores links, title, canonical, <base>, <html lang> and description inside <template>, nested ones too", () => {
      const inTemplate = [
        '<html lang="xx"><title>Template title</title><base href="https://elsewhere.example/">',
        '<link rel="canonical" href="/template-canonical"><meta name="description" content="template description">',
        '<a href="/t1">t1</a><template><a href="/t2">t2</a><title>Nested</title></template><area href="/t3">',
      ].join("");
      const html = `<!doctype html><head><template>${inTemplate}</template></head><body><p>Body</p><a href="real">real</a></body>`;
      const content = extract(html, "https://example.com/dir/");
      assert.deepEqual(content, { title: undefined, description: undefined, canonical: undefined, lang: undefined, links: ["https://example.com/dir/real"], linkCount: 1, textLength: visible("Body real") });
    });

    it("an end tag inside a template does not end it, so what follows is still template content", () => {
      const content = extract('<div><template></div><a href="/leak">leak</a><title>Leak</title></template></div><p>after</p>', "https://example.com/");
      assert.deepEqual(content.links, []);
      assert.equal(content.title, undefined);
      assert.equal(content.textLength, visible("after"));
    });

    it("a second <html> tag adds `lang` only when the root has none, and an empty one counts as present", () => {
      const lang = (html: string) => extract(html).lang;
      assert.equal(lang('<html lang=""><body><html lang="en">'), undefined);
      assert.equal(lang('<html lang=" "><body><html lang="en">'), undefined);
      assert.equal(lang('<html><body><html lang="en">'), "en");
      assert.equal(lang('<p>before<html lang="de">'), "de");
      assert.equal(lang('<html lang="fr"><body><html lang="en">'), "fr");
    });

    it("an <html>, <title>, <base> or <link> in SVG / MathML content is not the page's; one at an HTML integration point is", () => {
      const content = extract(
        '<svg><html lang="xx"></html><title>svg</title><base href="https://elsewhere.example/"><link rel="canonical" href="/svg"></svg>' +
          '<math><mi><title>Math title</title></mi></math><title>Later</title><a href="x">x</a>',
        "https://example.com/dir/",
      );
      assert.equal(content.lang, undefined);
      assert.equal(content.title, "Math title");
      assert.equal(content.canonical, undefined);
      assert.deepEqual(content.links, ["https://example.com/dir/x"]);
    });
  });

  describe("gives the same content as the htmlparser2-based extractor it replaced", () => {
    const pages = [
      { name: "article.html", url: "https://example.com/food/article.html" },
      { name: "broken.html", url: "http://example.fr/dir/" },
      { name: "base-href.html", url: "https://site.example/dir/page" },
      { name: "og-only.html", url: "https://example.com/" },
    ];
    for (const { name, url } of pages) {
      it(`on ${name}`, () => {
        const body = fixture(name);
        assert.deepEqual(extractPage({ body, finalUrl: url, maxLinks: 500 }), referenceExtract(decodeHtml(body), url, 500));
      });
    }

    it("on 300 generated documents, some cut off mid-construct, against several page URLs and link caps", () => {
      const urls = ["https://example.com/food/article.html", "http://user:pw@example.org/a/", "https://[::1]:8443/x/y"];
      for (let seed = 1; seed <= 300; seed++) {
        const html = generateDocument(seed, 50, { truncate: seed % 3 === 0 });
        const url = urls[seed % urls.length];
        const maxLinks = seed % 5 === 0 ? 2 : 500;
        const body = Buffer.from(html);
        assert.deepEqual(extractPage({ body, finalUrl: url, maxLinks }), referenceExtract(decodeHtml(body), url, maxLinks), `seed ${seed}: ${JSON.stringify(html)}`);
      }
    });
  });
});

/**
 * The extractor as it was before its own HTML reader: the same rules written
 * plainly on htmlparser2's Parser, with every link resolved by the URL parser.
 * Kept as the oracle the differential tests compare against.
 */
function referenceExtract(html: string, pageUrl: string, maxLinks: number): PageContent {
  const voidElements = new Set(["area", "base", "basefont", "br", "col", "command", "embed", "frame", "hr", "img", "input", "isindex", "keygen", "link", "meta", "param", "source", "track", "wbr"]);
  const integrationPoints = new Set(["mi", "mo", "mn", "ms", "mtext", "annotation-xml", "foreignObject", "desc", "title"]);

  let title: string | undefined;
  let titleText: string | undefined;
  let description: string | undefined;
  let ogDescription: string | undefined;
  let canonicalHref: string | undefined;
  let baseHref: string | undefined;
  let lang: string | undefined;
  let langSeen = false;
  let nonVisibleDepth = 0;
  let templateDepth = 0;
  // Whether each open element's content is SVG / MathML, the current one last.
  const foreignContent: boolean[] = [false];
  let textLength = 0;
  let pendingSpace = false;
  const hrefs: string[] = [];

  const parser = new Parser(
    {
      onopentag(name, attributes) {
        const inForeign = foreignContent[foreignContent.length - 1];
        const inDocument = templateDepth === 0 && !inForeign;
        if (!voidElements.has(name)) foreignContent.push(name === "svg" || name === "math" || (inForeign && !integrationPoints.has(name)));
        if (name === "template" && !inForeign) templateDepth++;
        if (name === "a" || name === "area") {
          if (attributes.href !== undefined && templateDepth === 0) hrefs.push(attributes.href);
        } else if (name === "meta") {
          if (attributes.content === undefined || templateDepth > 0) return;
          const metaName = attributes.name?.trim().toLowerCase();
          if (metaName === "description") description ??= normalizeMeta(attributes.content);
          else if (metaName === "og:description" || attributes.property?.trim().toLowerCase() === "og:description") ogDescription ??= normalizeMeta(attributes.content);
        } else if (name === "link") {
          const rel = attributes.rel?.toLowerCase().split(/[\t\n\f\r ]+/) ?? [];
          if (canonicalHref === undefined && attributes.href !== undefined && rel.includes("canonical") && inDocument) canonicalHref = attributes.href;
        } else if (name === "base") {
          if (inDocument) baseHref ??= attributes.href;
        } else if (name === "html") {
          if (!langSeen && attributes.lang !== undefined && inDocument) {
            langSeen = true;
            lang = attributes.lang.trim() || undefined;
          }
        } else {
          if (name === "title" && titleText === undefined && title === undefined && inDocument) titleText = "";
          if (NON_VISIBLE.has(name)) nonVisibleDepth++;
          else if (BLOCK.has(name)) pendingSpace = textLength > 0;
        }
      },
      onclosetag(name) {
        if (!voidElements.has(name)) foreignContent.pop();
        if (name === "template" && templateDepth > 0 && !foreignContent[foreignContent.length - 1]) templateDepth--;
        if (name === "title" && titleText !== undefined) {
          title = normalizeMeta(titleText) ?? "";
          titleText = undefined;
        }
        if (NON_VISIBLE.has(name)) nonVisibleDepth = Math.max(0, nonVisibleDepth - 1);
        else if (BLOCK.has(name)) pendingSpace = textLength > 0;
      },
      ontext(text) {
        if (titleText !== undefined && titleText.length < 16 * MAX_META_TEXT) titleText += text;
        if (nonVisibleDepth > 0) return;
        for (const char of text) {
          if (/^[\t\n\f\r ]$/.test(char)) {
            pendingSpace = textLength > 0;
          } else {
            textLength += pendingSpace ? 2 : 1;
            pendingSpace = false;
          }
        }
      },
    },
    { decodeEntities: true },
  );
  parser.end(html);

  return pageContent({ title, description, ogDescription, canonicalHref, baseHref, lang, hrefs, textLength }, pageUrl, maxLinks);
}

