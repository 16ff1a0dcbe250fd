import { strict as assert } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "htmlparser2";
import { HtmlTokenizer, HtmlTokenizerEndedError, type HtmlHandlers, type HtmlTokenizerOptions } from "../../shared/htmlTokenizer";
import { generateDocument } from "../support/generatedPages";

type HtmlEvent = readonly ["open", string, Readonly<Record<string, string>>] | readonly ["close", string] | readonly ["text", string];

/** Collects events, adjacent text joined (a run of text may arrive in pieces). */
class EventLog {
  readonly events: HtmlEvent[] = [];
  private text = "";

  readonly handlers: HtmlHandlers = {
    onopentag: (name, attributes) => this.push(["open", name, { ...attributes }]),
    onclosetag: (name) => this.push(["close", name]),
    ontext: (text) => {
      this.text += text;
    },
  };

  push(event: HtmlEvent): void {
    this.flush();
    this.events.push(event);
  }

  flush(): void {
    if (this.text !== "") this.events.push(["text", this.text]);
    this.text = "";
  }
}

/** Events of `html` written in chunks of `chunkSize` characters (all at once by default). */
function tokenize(html: string, chunkSize = html.length || 1, options?: HtmlTokenizerOptions): HtmlEvent[] {
  const log = new EventLog();
  const tokenizer = new HtmlTokenizer(log.handlers, options);
  for (let start = 0; start < html.length; start += chunkSize) tokenizer.write(html.slice(start, start + chunkSize));
  tokenizer.end();
  log.flush();
  return log.events;
}

/**
 * The same events from htmlparser2's Parser, the reference. A start tag cut
 * off by the end of the document is pushed on htmlparser2's stack when its
 * name is read, so at the end it gets a close event without an open one
 * (the tag is dropped, as the spec says); that close is left out.
 */
function tokenizeWithHtmlparser2(html: string): HtmlEvent[] {
  const log = new EventLog();
  let cutOffTag: string | undefined;
  let ending = false;
  const parser = new Parser(
    {
      onopentagname: (name) => {
        cutOffTag = name;
      },
      onopentag: (name, attributes) => {
        cutOffTag = undefined;
        log.push(["open", name, { ...attributes }]);
      },
      onclosetag: (name) => {
        if (ending && name === cutOffTag) {
          cutOffTag = undefined;
          return;
        }
        log.push(["close", name]);
      },
      ontext: log.handlers.ontext,
    },
    { decodeEntities: true },
  );
  parser.write(html);
  ending = true;
  parser.end();
  log.flush();
  return log.events;
}

const FIXTURES = join(__dirname, "..", "fixtures", "pages");
const fixtures = readdirSync(FIXTURES)
  .filter((name) => name.endsWith(".html"))
  .map((name) => ({ name, html: readFileSync(join(FIXTURES, name), "utf8") }));

describe("HtmlTokenizer", () => {
  describe("tags and attributes", () => {
    it("reads double-quoted, single-quoted, unquoted and empty attributes, names lower-cased", () => {
      assert.deepEqual(tokenize(`<A HREF="/a b" Rel='x "y"' data-x=1 hidden title=>`), [
        ["open", "a", { href: "/a b", rel: 'x "y"', "data-x": "1", hidden: "", title: "" }],
        ["close", "a"],
      ]);
    });

    it("a `>` inside a quoted value does not end the tag", () => {
      assert.deepEqual(tokenize(`<a title="a > b" href='/x>y'>t</a>`), [["open", "a", { title: "a > b", href: "/x>y" }], ["text", "t"], ["close", "a"]]);
    });

    it("keeps the first of duplicate attributes", () => {
      assert.deepEqual(tokenize(`<a href="/first" HREF="/second" class=a class=b>`)[0], ["open", "a", { href: "/first", class: "a" }]);
    });

    it("decodes references in attribute values with the attribute rules for legacy names", () => {
      // In an attribute `&copy` followed by `=` or a letter stays as written; `&amp;` and numbers are decoded.
      assert.deepEqual(tokenize(`<a href="/x?a=1&amp;b=2&copy=3&copyx&copy;&#65;&#x42">`)[0], ["open", "a", { href: "/x?a=1&b=2&copy=3&copyx\u00a9AB" }]);
    });

    it("reads attributes only of the elements named in attributesFor", () => {
      const events = tokenize(`<a href="/x"><p class="c">`, undefined, { attributesFor: new Set(["a"]) });
      assert.deepEqual(events.slice(0, 2), [
        ["open", "a", { href: "/x" }],
        ["open", "p", {}],
      ]);
    });

    it("skips a tag whose attributes it does not read correctly, quoted `>` included", () => {
      const events = tokenize(`<p class="a > b" data-x='<a href="/no">'>visible</p>`, undefined, { attributesFor: new Set() });
      assert.deepEqual(events, [["open", "p", {}], ["text", "visible"], ["close", "p"]]);
    });

    it("`<` not followed by a tag name is text", () => {
      assert.deepEqual(tokenize("a < b <3 <> <=x> c"), [["text", "a < b <3 <> <=x> c"]]);
    });

    it("drops a tag cut off by the end of the document, and keeps a trailing `<` or `</` as text", () => {
      assert.deepEqual(tokenize('x<a href="/y'), [["text", "x"]]);
      assert.deepEqual(tokenize("x<"), [["text", "x<"]]);
      assert.deepEqual(tokenize("x</"), [["text", "x</"]]);
      assert.deepEqual(tokenize("x</p"), [["text", "x"]]);
    });

    it("closes void elements at once and reads `</br>` as `<br>`, `</p>` without <p> as `<p></p>`", () => {
      assert.deepEqual(tokenize("<br></br></p></img>"), [
        ["open", "br", {}], ["close", "br"],
        ["open", "br", {}], ["close", "br"],
        ["open", "p", {}], ["close", "p"],
      ]);
    });

    it("closes what a start tag implies and what an end tag encloses, and everything at the end", () => {
      assert.deepEqual(tokenize("<ul><li>a<li>b</ul><div><span>c</div><p>d"), [
        ["open", "ul", {}], ["open", "li", {}], ["text", "a"], ["close", "li"], ["open", "li", {}], ["text", "b"], ["close", "li"], ["close", "ul"],
        ["open", "div", {}], ["open", "span", {}], ["text", "c"], ["close", "span"], ["close", "div"],
        ["open", "p", {}], ["text", "d"], ["close", "p"],
      ]);
    });

    it("ignores a stray end tag", () => {
      assert.deepEqual(tokenize("a</div>b"), [["text", "ab"]]);
    });

    it("ignores a <form> inside an open form, as the tree builder does", () => {
      assert.deepEqual(tokenize("<form><form>x</form>y"), [["open", "form", {}], ["text", "x"], ["close", "form"], ["text", "y"]]);
    });

    it("an end tag reaches 512 open elements deep; one for an element further out is ignored and end() closes it", () => {
      const near = tokenize(`<section>${"<div>".repeat(500)}</section>x`);
      assert.deepEqual(near.slice(-2), [["close", "section"], ["text", "x"]]);
      const far = tokenize(`<section>${"<div>".repeat(600)}</section>x`);
      assert.deepEqual(far[601], ["text", "x"]);
      assert.deepEqual(far.at(-1), ["close", "section"]);
    });

    it("reads a hostile page of deep nesting and stray end tags in linear time", () => {
      const html = "<div>".repeat(50_000) + "</span>".repeat(50_000);
      let closes = 0;
      const started = performance.now();
      const tokenizer = new HtmlTokenizer({ onclosetag: () => closes++ });
      tokenizer.write(html);
      tokenizer.end();
      // Searching the whole stack for every stray end tag would take 2.5 billion comparisons (seconds).
      assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`);
      assert.equal(closes, 50_000);
    });

    it("honours self-closing syntax in SVG only, and camel-cases SVG names", () => {
      assert.deepEqual(tokenize("<div/><svg><clipPath/><PATH/></svg>"), [
        ["open", "div", {}], ["open", "svg", {}], ["open", "clipPath", {}], ["close", "clipPath"], ["open", "path", {}], ["close", "path"], ["close", "svg"], ["close", "div"],
      ]);
    });
  });

  describe("comments, declarations and text-only elements", () => {
    it("skips comments of every shape, including markup and `>` inside them", () => {
      const html = '1<!-- <a href="/x"> -->2<!---->3<!-->4<!--->5<!-- a --!>6<!-- -- -->7<!-- x > y -->8<!-- a --!-->9';
      assert.deepEqual(tokenize(html), [["text", "123456789"]]);
    });

    it("skips doctype, processing instructions and bogus comments", () => {
      assert.deepEqual(tokenize("<!DOCTYPE html>1<?xml x?>2<!bogus>3</ x>4</>5</3>6"), [["text", "123456"]]);
    });

    it("an unclosed comment runs to the end of the document", () => {
      assert.deepEqual(tokenize("a<!-- <p>b"), [["text", "a"]]);
    });

    for (const name of ["script", "style", "xmp", "iframe", "noembed", "noframes"]) {
      it(`<${name}> holds raw text up to its own end tag in any case, references not decoded`, () => {
        assert.deepEqual(tokenize(`<${name}><a href="/x">&amp;</${name}x></${name.toUpperCase()} >after`), [
          ["open", name, {}], ["text", `<a href="/x">&amp;</${name}x>`], ["close", name], ["text", "after"],
        ]);
      });
    }

    for (const name of ["title", "textarea"]) {
      it(`<${name}> holds text with references decoded up to its own end tag`, () => {
        assert.deepEqual(tokenize(`<${name}>a <b>&amp;</b> &lt;/${name}&gt;</${name}>`), [["open", name, {}], ["text", `a <b>&</b> </${name}>`], ["close", name]]);
      });
    }

    it("an unclosed raw-text element runs to the end of the document", () => {
      assert.deepEqual(tokenize('<script>document.write("<p>")'), [["open", "script", {}], ["text", 'document.write("<p>")'], ["close", "script"]]);
      assert.deepEqual(tokenize("<title>a</title"), [["open", "title", {}], ["text", "a</title"], ["close", "title"]]);
    });

    it("<plaintext> makes the rest of the document text", () => {
      assert.deepEqual(tokenize("<plaintext><b>&amp;</plaintext>"), [["open", "plaintext", {}], ["text", "<b>&amp;</plaintext>"], ["close", "plaintext"]]);
    });

    it("<noscript> is read as markup, as with scripting off", () => {
      assert.deepEqual(tokenize('<noscript><a href="/n">n</a></noscript>').slice(0, 2), [
        ["open", "noscript", {}],
        ["open", "a", { href: "/n" }],
      ]);
    });

    it("inside SVG, <title> and <script> hold markup and CDATA is text", () => {
      assert.deepEqual(tokenize("<svg><title>a<b>b</b></title><![CDATA[<c>]]></svg>"), [
        ["open", "svg", {}], ["open", "title", {}], ["text", "a"], ["open", "b", {}], ["text", "b"], ["close", "b"], ["close", "title"], ["text", "<c>"], ["close", "svg"],
      ]);
    });
  });

  describe("character references in text", () => {
    it("decodes named, legacy and numeric references with the spec's replacements", () => {
      const html = "&amp;&lt;&copy&notit;&#65;&#x1F600;&#0;&#xD800;&#x110000;&#128;&#150&bogus;&;&";
      assert.deepEqual(tokenize(html), [["text", "&<\u00a9\u00acit;A\u{1F600}\uFFFD\uFFFD\uFFFD\u20ac\u2013&bogus;&;&"]]);
    });
  });

  describe("follows the WHATWG tokenizer where htmlparser2 does not", () => {
    it("outside SVG / MathML a CDATA section is a bogus comment that ends at the first `>`", () => {
      assert.deepEqual(tokenize("<p><![CDATA[ x > y ]]>"), [["open", "p", {}], ["text", " y ]]>"], ["close", "p"]]);
    });

    it("a quoted `>` inside an end tag does not end it", () => {
      assert.deepEqual(tokenize('<b>a</b x=">">c'), [["open", "b", {}], ["text", "a"], ["close", "b"], ["text", "c"]]);
    });

    it("`/ >` does not self-close an SVG element", () => {
      assert.deepEqual(tokenize("<svg><g / >x</svg>"), [["open", "svg", {}], ["open", "g", {}], ["text", "x"], ["close", "g"], ["close", "svg"]]);
    });

    it("a reference right after `<` in a title is decoded", () => {
      assert.deepEqual(tokenize("<title>a<&amp;</ti&amp;</title>"), [["open", "title", {}], ["text", "a<&</ti&"], ["close", "title"]]);
    });

    it("<xmp>, <plaintext>, <center> and the tree builder's other \"close a p element\" start tags close an open <p>", () => {
      assert.deepEqual(tokenize("<p>a<xmp>b</xmp><p>c<plaintext>d"), [
        ["open", "p", {}], ["text", "a"], ["close", "p"], ["open", "xmp", {}], ["text", "b"], ["close", "xmp"],
        ["open", "p", {}], ["text", "c"], ["close", "p"], ["open", "plaintext", {}], ["text", "d"], ["close", "plaintext"],
      ]);
      assert.deepEqual(tokenize("<p>a<center>b"), [["open", "p", {}], ["text", "a"], ["close", "p"], ["open", "center", {}], ["text", "b"], ["close", "center"]]);
    });

    it("a CDATA section in SVG cut off by the end of the document is text", () => {
      assert.deepEqual(tokenize("<svg><![CDATA[abc"), [["open", "svg", {}], ["text", "abc"], ["close", "svg"]]);
    });
  });

  describe("script data escaped and double-escaped states", () => {
    /** The events of a script holding `inner` and then `after`, when `inner` ends at the script's end tag. */
    function scriptThen(inner: string, after: string): HtmlEvent[] {
      return [["open", "script", {}], ["text", inner], ["close", "script"], ["text", after]];
    }

    it("a `</script>` inside `<!-- <script>` does not end the script, as in a page that writes an ad tag", () => {
      const inner = '<!-- document.write("<script src=/ad.js></script>"); <a href="/no">no</a> -->';
      assert.deepEqual(tokenize(`<script>${inner}</script>after`), scriptThen(inner, "after"));
    });

    it("in the escaped state (after `<!--` alone) `</script>` ends the script", () => {
      assert.deepEqual(tokenize("<script><!-- a </script>b-->"), scriptThen("<!-- a ", "b-->"));
    });

    it("`</script>` ends only the double escape, and the next one ends the script", () => {
      assert.deepEqual(tokenize("<script><!--<script></script>x</script>after"), scriptThen("<!--<script></script>x", "after"));
    });

    it("`-->` ends a double-escaped section and the escape at once", () => {
      assert.deepEqual(tokenize("<script><!--<script>a-->b</script>after"), scriptThen("<!--<script>a-->b", "after"));
      assert.deepEqual(tokenize("<script><!--<script>a--->b</script>after"), scriptThen("<!--<script>a--->b", "after"));
    });

    it("`<!-->` and `<!--->` open and close the escape at once", () => {
      assert.deepEqual(tokenize("<script><!--><script></script>x"), scriptThen("<!--><script>", "x"));
      assert.deepEqual(tokenize("<script><!---><script></script>x"), scriptThen("<!---><script>", "x"));
    });

    it("only `<script` followed by whitespace, `/` or `>` starts a double escape, in any case", () => {
      assert.deepEqual(tokenize("<script><!--<scripts></script>x"), scriptThen("<!--<scripts>", "x"));
      assert.deepEqual(tokenize("<script><!--<script1></script>x"), scriptThen("<!--<script1>", "x"));
      assert.deepEqual(tokenize("<script><!--<SCRIPT\n></SCRIPT/>y</script >x"), scriptThen("<!--<SCRIPT\n></SCRIPT/>y", "x"));
    });

    it("`--!>` does not end the escape, unlike a comment", () => {
      assert.deepEqual(tokenize("<script><!--<script>--!></script></script>x"), scriptThen("<!--<script>--!></script>", "x"));
    });

    it("an unclosed double-escaped section runs to the end of the document", () => {
      assert.deepEqual(tokenize("<script><!--<script></script><p>x"), [["open", "script", {}], ["text", "<!--<script></script><p>x"], ["close", "script"]]);
    });

    it("<style> and the other raw-text elements have no escaped states", () => {
      assert.deepEqual(tokenize("<style><!--<script></style>x"), [["open", "style", {}], ["text", "<!--<script>"], ["close", "style"], ["text", "x"]]);
    });

    it("reads hostile pages of escaped scripts in linear time, in one write or in chunks", () => {
      const pages = [
        `<script><!--${"<script></script>".repeat(20_000)}`,
        "<script><!-- x</script>".repeat(20_000),
        "<script>!a<b!</script><p>".repeat(20_000),
        `<script><!--${"- -- <scrip </scrip ".repeat(20_000)}`,
      ];
      for (const html of pages) {
        for (const chunkSize of [html.length, 1000]) {
          const started = process.cpuUsage();
          const tokenizer = new HtmlTokenizer({});
          for (let start = 0; start < html.length; start += chunkSize) tokenizer.write(html.slice(start, start + chunkSize));
          tokenizer.end();
          const used = process.cpuUsage(started);
          // A search from each script or escape to the end of the page would take seconds here.
          assert.ok(used.user + used.system < 1_000_000, `${html.slice(0, 30)}… in chunks of ${chunkSize}: ${(used.user + used.system) / 1000} ms`);
        }
      }
    });

    it("gives the same events for chunks of every size from 1 to 64 characters", () => {
      const html = [
        '<script><!-- document.write("<script src=/ad.js></script>"); --></script>a',
        "<SCRIPT><!--<Script>b</SCRIPT >c--!>d--></script>e",
        "<script><!--><script></script>f<script><!---><scripts></script>g",
        "<script><!-- <script>x--> </script>h<script>-<!-<!--<script/></script >i</script x='>'>j",
        "<script><!-- <script/",
      ].join("");
      const whole = tokenize(html);
      // b, c, d and i are script text.
      assert.deepEqual(whole.filter((event) => event[0] === "text" && /^[a-j]$/.test(event[1])).map((event) => event[1]), [..."aefghj"]);
      for (let chunkSize = 1; chunkSize <= 64; chunkSize++) assert.deepEqual(tokenize(html, chunkSize), whole, `chunks of ${chunkSize}`);
    });
  });

  describe("<template> contents", () => {
    it("an end tag inside a template does not close elements outside it", () => {
      assert.deepEqual(tokenize("<div><template><b></div>x</template>y</div>z"), [
        ["open", "div", {}], ["open", "template", {}], ["open", "b", {}], ["text", "x"], ["close", "b"], ["close", "template"], ["text", "y"], ["close", "div"], ["text", "z"],
      ]);
    });

    it("`</p>` inside a template with a <p> open outside it is read as `<p></p>`", () => {
      assert.deepEqual(tokenize("<p><template></p></template>"), [["open", "p", {}], ["open", "template", {}], ["open", "p", {}], ["close", "p"], ["close", "template"], ["close", "p"]]);
    });

    it("a <form> inside a template is not ignored, even inside an open form", () => {
      assert.deepEqual(tokenize("<form><template><form>x"), [["open", "form", {}], ["open", "template", {}], ["open", "form", {}], ["text", "x"], ["close", "form"], ["close", "template"], ["close", "form"]]);
    });

    it("says when an element or text is inside a template's contents, nested ones too, and an SVG <template> is not one", () => {
      const seen: string[] = [];
      const tokenizer: HtmlTokenizer = new HtmlTokenizer({
        onopentag: (name) => seen.push(`${name}:${tokenizer.inTemplate}`),
        ontext: (text) => seen.push(`${text}:${tokenizer.inTemplate}`),
      });
      tokenizer.write("<a><template><b><template><i></template>1</template>2<svg><template><c>");
      tokenizer.end();
      assert.deepEqual(seen, ["a:false", "template:true", "b:true", "template:true", "i:true", "1:true", "2:false", "svg:false", "template:false", "c:false"]);
    });

    it("says in onopentag whether the element was read in SVG / MathML content", () => {
      const seen: string[] = [];
      const tokenizer: HtmlTokenizer = new HtmlTokenizer({ onopentag: (name) => seen.push(`${name}:${tokenizer.inForeignContent}`) });
      tokenizer.write("<title></title><svg><title><p></title><foreignObject><title></title></foreignObject><br></svg><math><mi><html></mi></math><link>");
      tokenizer.end();
      assert.deepEqual(seen, ["title:false", "svg:false", "title:true", "p:false", "foreignObject:true", "title:false", "br:true", "math:false", "mi:true", "html:false", "link:false"]);
    });
  });

  describe("streaming", () => {
    const documents = [
      ...fixtures.map(({ html }) => html),
      ...Array.from({ length: 12 }, (_, index) => generateDocument(1000 + index, 40, { specOnly: true, truncate: index % 2 === 0 })),
    ];

    it("gives the same events for chunks of every size from 1 to 64 characters as for one write", () => {
      for (const [index, html] of documents.entries()) {
        const whole = tokenize(html);
        for (let chunkSize = 1; chunkSize <= 64; chunkSize++) assert.deepEqual(tokenize(html, chunkSize), whole, `document ${index}, chunks of ${chunkSize}`);
      }
    });

    it("a long comment, tag or raw text split over many small chunks is read once it is complete", () => {
      const html = `<!--${"c".repeat(5000)}--><a title="${"t".repeat(5000)}" href="/x">y</a><script>${"s".repeat(5000)}</script>z`;
      const events = tokenize(html, 7);
      assert.deepEqual(events[0], ["open", "a", { title: "t".repeat(5000), href: "/x" }]);
      assert.deepEqual(events.slice(-2), [["close", "script"], ["text", "z"]]);
    });

    it("ontextrange gives the same text as ontext, without a copy", () => {
      const html = generateDocument(7, 80);
      let viaText = "";
      let viaRange = "";
      const tokenizer = new HtmlTokenizer({ ontext: (text) => (viaText += text), ontextrange: (source, start, end) => (viaRange += source.slice(start, end)) });
      tokenizer.write(html);
      tokenizer.end();
      assert.ok(viaText.length > 0);
      assert.equal(viaRange, viaText);
    });

    it("refuses a write or end after end", () => {
      const tokenizer = new HtmlTokenizer({});
      tokenizer.end();
      assert.throws(() => tokenizer.write("x"), HtmlTokenizerEndedError);
      assert.throws(() => tokenizer.end(), (error: unknown) => error instanceof HtmlTokenizerEndedError && error.code === "html_tokenizer_ended");
    });
  });

  describe("matches htmlparser2's Parser events", () => {
    it("on the page fixtures", () => {
      for (const { name, html } of fixtures) assert.deepEqual(tokenize(html), tokenizeWithHtmlparser2(html), name);
    });

    it("on 300 generated documents, some cut off mid-construct", () => {
      for (let seed = 1; seed <= 300; seed++) {
        const html = generateDocument(seed, 50, { truncate: seed % 3 === 0 });
        assert.deepEqual(tokenize(html), tokenizeWithHtmlparser2(html), `seed ${seed}: ${JSON.stringify(html)}`);
      }
    });
  });
});
