/**
 * Pseudo-random HTML documents for the tokenizer and extractor comparison
 * tests: seeded, so a failing document reproduces from its seed.
 */
/** A fixed linear congruential generator, so a failing document reproduces from its seed. */
function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

export interface GeneratedDocumentOptions {
  /** Cut the document at a random point inside its last piece, as a truncated download would be. */
  readonly truncate?: boolean;
  /**
   * Include the constructs where this reader follows the WHATWG tokenizer and
   * htmlparser2 does not (see the "follows the spec" tests): CDATA holding `>`
   * outside SVG, an end tag with a quoted `>`, `/ >` inside SVG, `<&` in a title,
   * scripts with escaped and double-escaped text, `<template>`, `<xmp>` (which
   * closes an open `<p>`).
   * @default false
   */
  readonly specOnly?: boolean;
}

/**
 * Scripts whose text holds `<!--` and `<script>`, which the spec reads in its
 * escaped and double-escaped script states, where htmlparser2 ends the
 * script at the first `</script>`; some run on into the next pieces.
 */
const SCRIPT_ESCAPES = [
  '<script><!-- document.write("<script src=/ad.js></script>"); --></script>',
  "<SCRIPT><!--<Script>a</SCRIPT >b--!>c--></script>",
  "<script><!--><script></script>",
  "<script><!---><scripts></script>",
  "<script><!-- <script>x</script> y </script>",
  "<script><!-- <script>x--> </script>",
  "<script><!-- <script/",
  "<script>a<!-",
];

/**
 * A pseudo-random document mixing what pages hold and how they break: tags in
 * any case, attributes with every kind of quoting, `>` and references in
 * values, duplicates, comments of every shape, raw-text elements with markup
 * inside, SVG / MathML with titles and CDATA, stray and unclosed tags, `<` as text.
 */
export function generateDocument(seed: number, pieceCount = 60, options: GeneratedDocumentOptions = {}): string {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const chance = (probability: number) => next() < probability;
  const anyCase = (name: string) => (chance(0.15) ? name.toUpperCase() : chance(0.1) ? name[0].toUpperCase() + name.slice(1) : name);

  const tags = [
    "a", "a", "a", "p", "p", "div", "span", "li", "ul", "br", "hr", "img", "image", "b", "i", "h1", "td", "tr", "table", "form", "html", "head", "body",
    "meta", "link", "base", "area", "title", "script", "style", "noscript", "iframe", "textarea", "noembed", "noframes", "svg",
    "math", "mi", "foreignObject", "desc", "path", "select", "option", "nav", "section", "custom-element", "dd", "dt", "pre",
  ];
  if (options.specOnly) tags.push("template", "xmp");
  const attributeNames = ["href", "HREF", "rel", "name", "content", "property", "lang", "class", "id", "data-x", "src", "charset"];
  const words = ["fish", "chips", "Caf\u00e9", "\u{1F600}", "x", "lorem", "ipsum", "na\u00efve"];
  const references = ["&amp;", "&lt;", "&gt;", "&quot;", "&nbsp;", "&copy", "&copy;", "&amp", "&notit;", "&notin;", "&#65;", "&#x1F600;", "&#0;", "&#xD800;", "&#x110000;", "&#128;", "&#150", "&;", "&", "&bogus;", "&#x;", "&ndash;", "&hellip;"];
  const spaces = [" ", " ", "  ", "\n", "\t", " \n  ", "\r\n"];
  const values = ["/one", "two.html", "https://example.org/x?a=1&b=2", "javascript:void(0)", "#top", "canonical", "Canonical alternate", "description", "og:description", "en", "a > b", "it's", 'say "hi"', "", "/a?x=1&amp;y=2", "&copy=3", "/caf\u00e9"];

  function attribute(): string {
    const name = pick(attributeNames);
    const value = pick(values) + (chance(0.2) ? pick(references) : "");
    switch (Math.floor(next() * 6)) {
      case 0:
        return `${name}="${value.replace(/"/g, "&quot;")}"`;
      case 1:
        return `${name}='${value.replace(/'/g, "&#39;")}'`;
      case 2:
        return `${name}=${value.replace(/[\s>"'`=<]/g, "") || "v"}`;
      case 3:
        return name;
      case 4:
        return `${name} = "${value.replace(/"/g, "")}"`;
      default:
        return `${name}="${value.replace(/"/g, "")}"${pick(["", " "])}`;
    }
  }

  function startTag(name: string): string {
    const attributes = Array.from({ length: Math.floor(next() * 3) }, attribute);
    if (chance(0.1) && attributes.length > 0) attributes.push(attributes[0]);
    const close = chance(0.1) ? (options.specOnly && chance(0.3) ? " / >" : "/>") : ">";
    return `<${anyCase(name)}${attributes.map((text) => pick([" ", "\n", "  "]) + text).join("")}${close}`;
  }

  function text(): string {
    return Array.from({ length: 1 + Math.floor(next() * 4) }, () => (chance(0.25) ? pick(references) : pick(words)) + pick(spaces)).join("");
  }

  function piece(): string {
    const roll = next();
    if (roll < 0.3) return text();
    if (roll < 0.55) return startTag(pick(tags));
    if (roll < 0.75) {
      const name = anyCase(pick(tags));
      const attributes = options.specOnly && chance(0.2) ? ' x=">"' : chance(0.05) ? " x=1" : "";
      return pick([`</${name}>`, `</${name} >`, `</${name}${attributes}>`]);
    }
    if (roll < 0.8) {
      const inner = pick(["", "text", '<a href="/in-raw">raw</a>', "</scriptx>", "a < b", "&amp;", "</ti ", "<!--", "-->", options.specOnly ? "<&amp;" : "< &amp;"]);
      const name = pick(["script", "style", "title", "textarea", "iframe", "noembed", "noframes", ...(options.specOnly ? ["xmp"] : [])]);
      return `${startTag(name)}${inner}${pick([`</${name}>`, `</${anyCase(name)} >`, ""])}`;
    }
    return pick([
      "<!-- a comment -->", "<!---->", "<!-->", "<!--->", "<!-- a --!> after", "<!-- -- -->", '<!-- <a href="/in-comment">x</a> -->', "<!-- x > y -->",
      "<!DOCTYPE html>", "<!doctype x>", "<!bogus>", "<?xml version='1.0'?>", "</ x>", "</>", "</3>", "a < b", "1 <2", options.specOnly ? "<" : "< ", "<<p>", ">",
      "<![CDATA[ cdata text ]]>", options.specOnly ? "<![CDATA[ x > y ]]>" : "<![CDATA[]]>", "<svg><title>svg <b>t</b></title><![CDATA[ in svg ]]></svg>",
      "<math><mi><title>t</title></mi></math>", "<svg/>", "<svg><path/><foreignObject><p>html in svg</p></foreignObject></svg>",
      ...(options.specOnly ? SCRIPT_ESCAPES : []),
    ]);
  }

  const pieces = Array.from({ length: pieceCount }, piece);
  if (options.truncate) {
    const last = pieces[pieces.length - 1];
    // A CDATA section cut off by the end of the document is text to the spec, a comment to htmlparser2.
    if (!last.includes("CDATA")) pieces[pieces.length - 1] = last.slice(0, Math.floor(next() * last.length));
  }
  const html = pieces.join("");
  // Dropped to the spec, read differently by htmlparser2 when the document ends inside them: a start
  // tag name (text when it begins like a raw-text element's), a start tag after a `/`, and an end tag
  // after its name (it gives out a stray character as text). So the document does not end there.
  const endsInTagName = /<[A-Za-z][^\s/>]*$/.test(html) || /<[A-Za-z][^>]*\/$/.test(html) || /<\/[A-Za-z][^\s/>]*[\s/][^>]*$/.test(html);
  return endsInTagName && !options.specOnly ? `${html}>` : html;
}
