/**
 * A streaming (SAX-style) HTML reader built for the extractor's hot path: it
 * finds markup with `indexOf`, hands text over as ranges of the input, and
 * reads attributes only of the elements the caller names, skipping the rest
 * of every other tag: the benchmark's CPU target leaves htmlparser2's
 * character-by-character state machine no room.
 *
 * Events follow htmlparser2's `Parser` (https://github.com/fb55/htmlparser2),
 * so handlers written for one work with the other: names lower-cased (SVG
 * names camel-cased as the tree builder adjusts them, `image` read as `img`),
 * an open-element stack that emits the closes a browser would imply (`<p>`
 * closes an open `<p>`, an end tag closes the elements opened after its
 * element, the end of the document closes everything), void elements closed
 * at once, `</br>` read as `<br>`, self-closing syntax honoured only inside
 * SVG / MathML. Tests compare the events with htmlparser2's on generated pages,
 * and the extractor's fields with those of parse5's spec-compliant tree on
 * hand-written hostile pages (tests/shared/extractAgainstParse5.test.ts).
 *
 * Tokenizing follows the WHATWG tokenizer where it decides what a page says
 * (https://html.spec.whatwg.org/multipage/parsing.html#tokenization): comments
 * (`<!-- -->`, `--!>`, `<!-->`), bogus comments (`<?…>`, `<!…>`, `</ …>`),
 * doctype, `<` not followed by a tag name as text, quoted attribute values
 * that contain `>`, first of duplicate attributes wins, raw text (`style`,
 * `xmp`, `iframe`, `noembed`, `noframes`) and escapable raw text (`title`,
 * `textarea`) that end only at their own end tag, script data with its
 * escaped and double-escaped states (`<!-- <script></script> -->` does not end
 * a script), `plaintext`, and `noscript` read as markup, as a browser with
 * scripting off would. Of the tree builder it follows `<template>`: an end tag
 * inside a template's contents does not close what is outside, and
 * `inTemplate` tells a handler that what it gets is not part of the document.
 * Where htmlparser2 departs from the spec this reader does not: the script
 * data states and `<template>` above; CDATA is text in SVG / MathML and a
 * bogus comment ending at the first `>` elsewhere; an end tag's attributes
 * are tokenized, so a quoted `>` does not end it; `<g / >` is not
 * self-closing; `<&amp;` in a title is decoded; a tag cut off by the end of
 * the document is dropped; `<xmp>`, `<plaintext>`, `<center>` and the other
 * start tags the tree builder has "close a p element" close an open `<p>`.
 * Departures on purpose, for speed and a flat stack: no NULL and CR LF
 * normalization (a NULL stays in the text); none of the tree builder's
 * reparenting (foster parenting out of tables, the adoption agency for
 * misnested `<b><p></b>`, a `<p>` breaking out of `<svg>`), so text and links
 * keep their source order; no dropping of a newline right after `<textarea>`,
 * `<pre>` or `<listing>`; HTML integration points known by name alone; a
 * `<p>` and the other implied closes apply only when the element they close
 * is the current one, and an end tag closes every element opened after its
 * own, where the spec stops at special elements (`</noscript>` does not close
 * an open `<ul>` in it). An end tag looks for its element among the 512
 * innermost open ones only.
 *
 * Character references in text, titles and attribute values are decoded by
 * the `entities` package, the decoder htmlparser2 itself uses, with the spec's
 * rules for legacy names without `;`, for numbers (0, surrogates and values
 * past U+10FFFF become U+FFFD; 0x80–0x9F map as windows-1252) and for
 * attributes (`&copy=` stays as written).
 */
import { decodeHTML, decodeHTMLAttribute } from "entities";

export type HtmlAttributes = Readonly<Record<string, string>>;

export interface HtmlHandlers {
  /**
   * An element opens. `attributes` has lower-cased names, decoded values ("" for
   * an attribute without one) and the first of duplicate names; for elements
   * not in `attributesFor` it is an empty object.
   */
  onopentag?(name: string, attributes: HtmlAttributes): void;
  /** An element closes: by its end tag, implied by another tag, at once for a void element, or at the end of the document. */
  onclosetag?(name: string): void;
  /** Decoded text. One run of text may arrive in several calls. */
  ontext?(text: string): void;
  /**
   * The same text as `ontext`, given as `source.slice(start, end)` without
   * making that copy: `source` is the input being read, or the decoded text
   * when the run holds a character reference. For a handler that only scans
   * the text.
   */
  ontextrange?(source: string, start: number, end: number): void;
}

export interface HtmlTokenizerOptions {
  /**
   * Elements (lower-case names) whose attributes are read. Skipping the
   * attributes of every other element is much of what makes the reader fast.
   * @default every element
   */
  readonly attributesFor?: ReadonlySet<string>;
}

/** Thrown by `write` or `end` after `end`: a tokenizer reads one document. */
export class HtmlTokenizerEndedError extends Error {
  readonly code = "html_tokenizer_ended";

  constructor() {
    super("HtmlTokenizer: write() or end() called after end(); create a new HtmlTokenizer for each document");
    this.name = "HtmlTokenizerEndedError";
  }
}

const EMPTY_ATTRIBUTES: HtmlAttributes = Object.freeze({});

const TAB = 0x09;
const NEWLINE = 0x0a;
const FORM_FEED = 0x0c;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const BANG = 0x21;
const DOUBLE_QUOTE = 0x22;
const HASH = 0x23;
const AMPERSAND = 0x26;
const SINGLE_QUOTE = 0x27;
const SLASH = 0x2f;
const LESS_THAN = 0x3c;
const EQUALS = 0x3d;
const GREATER_THAN = 0x3e;

/** Classes of ASCII characters as bits, so the per-character loops test one table entry. */
const CharClass = { whitespace: 1, tagNameEnd: 2, attributeNameEnd: 4, unquotedValueEnd: 8 } as const;

const CHAR_CLASSES = (() => {
  const classes = new Uint8Array(128);
  for (const code of [SPACE, NEWLINE, TAB, CARRIAGE_RETURN, FORM_FEED]) {
    classes[code] = CharClass.whitespace | CharClass.tagNameEnd | CharClass.attributeNameEnd | CharClass.unquotedValueEnd;
  }
  classes[SLASH] = CharClass.tagNameEnd | CharClass.attributeNameEnd;
  classes[GREATER_THAN] = CharClass.tagNameEnd | CharClass.attributeNameEnd | CharClass.unquotedValueEnd;
  classes[EQUALS] = CharClass.attributeNameEnd;
  return classes;
})();

function hasClass(code: number, charClass: number): boolean {
  return code < 128 && (CHAR_CLASSES[code] & charClass) !== 0;
}

function isWhitespace(code: number): boolean {
  return hasClass(code, CharClass.whitespace);
}

function isAsciiAlpha(code: number): boolean {
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x7a;
}

/** Ends a tag name: whitespace, `/` or `>`. */
function isTagNameEnd(code: number): boolean {
  return hasClass(code, CharClass.tagNameEnd);
}

/** What follows a start tag until its end tag. */
const TextMode = { data: 0, rawText: 1, escapableRawText: 2, plainText: 3, scriptData: 4 } as const;
type TextMode = (typeof TextMode)[keyof typeof TextMode];

/**
 * Where script data is: the spec's script data states, each standing for its
 * dash and less-than-sign sub-states. Inside `<!--` the text is escaped; a
 * `<script>` there starts a double-escaped section in which `</script>` does
 * not end the script, only the double escape; `-->` ends either.
 * https://html.spec.whatwg.org/multipage/parsing.html#script-data-escaped-state
 */
const ScriptState = { data: 0, escaped: 1, doubleEscaped: 2 } as const;
type ScriptState = (typeof ScriptState)[keyof typeof ScriptState];

/** https://html.spec.whatwg.org/multipage/syntax.html#void-elements, plus the obsolete ones browsers still treat as void. */
const VOID_ELEMENTS: ReadonlySet<string> = new Set([
  "area", "base", "basefont", "br", "col", "command", "embed", "frame", "hr", "img", "input", "isindex", "keygen", "link", "meta", "param", "source", "track", "wbr",
]);

/**
 * Open elements a start tag closes when one of them is the current element
 * (htmlparser2's table, a simplification of the tree builder's rules).
 */
const OPEN_IMPLIES_CLOSE: ReadonlyMap<string, ReadonlySet<string>> = (() => {
  const paragraph = new Set(["p"]);
  const headings = new Set(["h1", "h2", "h3", "h4", "h5", "h6", "p"]);
  const formControls = new Set(["input", "option", "optgroup", "select", "button", "datalist", "textarea"]);
  const definitions = new Set(["dd", "dt"]);
  const ruby = new Set(["rt", "rp"]);
  const tableSections = new Set(["thead", "tbody"]);
  const closes = new Map<string, ReadonlySet<string>>([
    ["tr", new Set(["tr", "th", "td"])],
    ["th", new Set(["th"])],
    ["td", new Set(["thead", "th", "td"])],
    ["body", new Set(["head", "link", "script"])],
    ["a", new Set(["a"])],
    ["li", new Set(["li"])],
    ["option", new Set(["option"])],
    ["optgroup", new Set(["optgroup", "option"])],
    ["dd", definitions],
    ["dt", definitions],
    ["rt", ruby],
    ["rp", ruby],
    ["tbody", tableSections],
    ["tfoot", tableSections],
  ]);
  for (const heading of ["h1", "h2", "h3", "h4", "h5", "h6"]) closes.set(heading, headings);
  for (const control of ["select", "input", "output", "button", "datalist", "textarea"]) closes.set(control, formControls);
  for (const block of ["p", "address", "article", "aside", "blockquote", "details", "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "main", "nav", "ol", "pre", "section", "table", "ul"]) {
    closes.set(block, paragraph);
  }
  // Not in htmlparser2's table, but in the tree builder's ("close a p element"):
  // https://html.spec.whatwg.org/multipage/parsing.html#parsing-main-inbody
  for (const block of ["center", "dialog", "dir", "hgroup", "listing", "menu", "plaintext", "search", "summary", "xmp"]) closes.set(block, paragraph);
  return closes;
})();

/** Which language the current element's content is in. */
const Namespace = { html: 0, svg: 1, mathMl: 2 } as const;
type Namespace = (typeof Namespace)[keyof typeof Namespace];

/** Elements inside SVG / MathML whose content is HTML again (names as adjusted for SVG). */
const HTML_INTEGRATION_POINTS: ReadonlySet<string> = new Set(["mi", "mo", "mn", "ms", "mtext", "annotation-xml", "foreignObject", "desc", "title"]);

/** SVG element names in their adjusted case: https://html.spec.whatwg.org/multipage/parsing.html#parsing-main-inforeign ("Any other start tag") */
const SVG_TAG_NAMES: ReadonlyMap<string, string> = new Map(
  [
    "altGlyph", "altGlyphDef", "altGlyphItem", "animateColor", "animateMotion", "animateTransform", "clipPath", "feBlend", "feColorMatrix",
    "feComponentTransfer", "feComposite", "feConvolveMatrix", "feDiffuseLighting", "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood",
    "feFuncA", "feFuncB", "feFuncG", "feFuncR", "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset", "fePointLight",
    "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence", "foreignObject", "glyphRef", "linearGradient", "radialGradient", "textPath",
  ].map((name) => [name.toLowerCase(), name]),
);

/** What the reader needs to know about an element, by name, as bits: one look-up per tag. */
const ElementFlag = {
  void: 1,
  /** Starts SVG or MathML content. */
  foreignRoot: 2,
  /** Content back in HTML inside SVG / MathML. */
  integrationPoint: 4,
  /** Has an `OPEN_IMPLIES_CLOSE` entry. */
  closesOthers: 8,
  rawText: 16,
  escapableRawText: 32,
  plainText: 64,
  /** Named in the tokenizer's `attributesFor`. */
  readsAttributes: 128,
  /** Script data, with its escaped states. */
  scriptData: 256,
  /** An HTML `<template>`: its contents are a separate fragment, which end tags inside it do not leave. */
  template: 512,
} as const;

const ELEMENT_FLAGS: ReadonlyMap<string, number> = (() => {
  const flags = new Map<string, number>();
  const add = (names: Iterable<string>, flag: number) => {
    for (const name of names) flags.set(name, (flags.get(name) ?? 0) | flag);
  };
  add(VOID_ELEMENTS, ElementFlag.void);
  add(["svg", "math"], ElementFlag.foreignRoot);
  add(HTML_INTEGRATION_POINTS, ElementFlag.integrationPoint);
  add(OPEN_IMPLIES_CLOSE.keys(), ElementFlag.closesOthers);
  add(["style", "xmp", "iframe", "noembed", "noframes"], ElementFlag.rawText);
  add(["script"], ElementFlag.scriptData);
  add(["template"], ElementFlag.template);
  add(["title", "textarea"], ElementFlag.escapableRawText);
  add(["plaintext"], ElementFlag.plainText);
  return flags;
})();

/** `ELEMENT_FLAGS` with `readsAttributes` added for each `attributesFor` set, built once per set. */
const flagsByAttributesFor = new WeakMap<ReadonlySet<string>, ReadonlyMap<string, number>>();

function elementFlagsFor(attributesFor: ReadonlySet<string> | undefined): ReadonlyMap<string, number> {
  if (attributesFor === undefined) return ELEMENT_FLAGS;
  let flags = flagsByAttributesFor.get(attributesFor);
  if (flags === undefined) {
    const withAttributes = new Map(ELEMENT_FLAGS);
    for (const name of attributesFor) withAttributes.set(name, (withAttributes.get(name) ?? 0) | ElementFlag.readsAttributes);
    flagsByAttributesFor.set(attributesFor, withAttributes);
    flags = withAttributes;
  }
  return flags;
}

/**
 * Shared constant spellings of the names pages use most, so a name read from a
 * page is found here without copying it out of the page, and the look-ups the
 * reader and its handlers make with it (sets, maps, `switch`, property names)
 * compare constant strings instead of hashing a fresh one.
 */
class NameTable {
  private static readonly MAX_LENGTH = 16;

  /** Candidates by `bucket(length, first character)`. */
  private readonly buckets: (readonly string[])[];
  /** One-letter names (`a`, `p`, `b`…), the most frequent, by character code. */
  private readonly oneCharNames: (string | undefined)[] = new Array<string | undefined>(128).fill(undefined);

  constructor(names: readonly string[]) {
    const buckets: string[][] = Array.from({ length: NameTable.bucket(NameTable.MAX_LENGTH + 1, 0) }, () => []);
    for (const name of names) {
      buckets[NameTable.bucket(name.length, name.charCodeAt(0))].push(name);
      if (name.length === 1) this.oneCharNames[name.charCodeAt(0)] = name;
    }
    this.buckets = buckets;
  }

  private static bucket(length: number, firstCode: number): number {
    return (length << 7) | ((firstCode | 0x20) & 0x7f);
  }

  /** The listed name `buffer[start, end)` spells in any ASCII case, or `undefined`. */
  find(buffer: string, start: number, end: number): string | undefined {
    const length = end - start;
    if (length === 1) {
      const code = buffer.charCodeAt(start);
      return code < 128 ? this.oneCharNames[code | 0x20] : undefined;
    }
    if (length > NameTable.MAX_LENGTH) return undefined;
    const candidates = this.buckets[NameTable.bucket(length, buffer.charCodeAt(start))];
    next: for (let candidateIndex = 0; candidateIndex < candidates.length; candidateIndex++) {
      const candidate = candidates[candidateIndex];
      for (let index = 0; index < length; index++) {
        const code = buffer.charCodeAt(start + index);
        const expected = candidate.charCodeAt(index);
        if (code !== expected && !(code >= 0x41 && code <= 0x5a && code + 0x20 === expected)) continue next;
      }
      return candidate;
    }
    return undefined;
  }
}

/** https://html.spec.whatwg.org/multipage/indices.html#elements-3, the obsolete elements browsers still know, and common SVG / MathML ones. */
const TAG_NAMES = new NameTable([
  "a", "abbr", "address", "area", "article", "aside", "audio", "b", "base", "bdi", "bdo", "blockquote", "body", "br", "button", "canvas", "caption",
  "cite", "code", "col", "colgroup", "data", "datalist", "dd", "del", "details", "dfn", "dialog", "div", "dl", "dt", "em", "embed", "fieldset",
  "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "i", "iframe", "img",
  "input", "ins", "kbd", "label", "legend", "li", "link", "main", "map", "mark", "menu", "meta", "meter", "nav", "noscript", "object", "ol",
  "optgroup", "option", "output", "p", "picture", "pre", "progress", "q", "rp", "rt", "ruby", "s", "samp", "script", "search", "section", "select",
  "slot", "small", "source", "span", "strong", "style", "sub", "summary", "sup", "table", "tbody", "td", "template", "textarea", "tfoot", "th",
  "thead", "time", "title", "tr", "track", "u", "ul", "var", "video", "wbr", "center", "font", "noembed", "noframes", "xmp", "plaintext", "image",
  "svg", "math", "g", "path", "circle", "rect", "line", "polygon", "polyline", "ellipse", "use", "defs", "symbol", "text", "tspan", "desc",
  "mi", "mo", "mn", "ms", "mtext", "annotation-xml", "foreignobject", "clippath", "lineargradient", "radialgradient", "stop", "mask", "filter",
]);

/** Attribute names the extractor and most callers read. */
const ATTRIBUTE_NAMES = new NameTable([
  "href", "rel", "name", "content", "property", "lang", "charset", "http-equiv", "id", "class", "style", "title", "src", "alt", "type", "target",
  "hreflang", "media", "itemprop", "role", "width", "height", "value", "action", "method", "srcset", "sizes", "loading", "data-id",
]);

/**
 * How many of the innermost open elements an end tag looks through for its
 * element. Browsers cap how deep their parser nests elements too; an end tag
 * for an element further out is ignored, and `end()` closes it.
 */
const MAX_END_TAG_REACH = 512;

/** Returned by the markup readers when the buffer ends inside the construct. */
const INCOMPLETE = -1;

/**
 * Reads one HTML document given in `write` chunks of any size (a tag may be
 * split anywhere) followed by `end`, calling the handlers as it goes.
 */
export class HtmlTokenizer {
  private readonly handlers: HtmlHandlers;
  /** Every element's attributes are read when no `attributesFor` is given. */
  private readonly readsAllAttributes: boolean;
  private readonly elementFlags: ReadonlyMap<string, number>;

  /** Unread input: a construct cut off by the end of the last chunk, then the new chunk. */
  private buffer = "";
  private position = 0;
  /** A cut-off construct is read again once the buffer has this many characters, so a long one is not rescanned per small chunk. */
  private retryLength = 0;
  /** Index of the first `&` at or after the last text searched, or the buffer length when there is none. */
  private nextAmpersand = -1;
  private ended = false;

  private textMode: TextMode = TextMode.data;
  /** The element whose end tag ends raw text. */
  private textElement = "";
  /** Set by `readAttributes` for the tag just read. */
  private selfClosing = false;
  private scriptState: ScriptState = ScriptState.data;
  /**
   * In script data, the next `-->` and the next `</script` followed by a tag
   * name's end, at or after the last position searched, or the buffer length
   * when there is none: each search then covers the buffer once, however many
   * scripts and escapes a page has.
   */
  private nextEscapeEnd = -1;
  private nextScriptEnd = -1;
  /** The `!` of the next `!--` after the last position searched for `<!--` in script data, or the buffer length. */
  private nextEscapeBang = -1;

  /** Open elements, the current one last, and their `ElementFlag`s. */
  private readonly openElements: string[] = [];
  private readonly openElementFlags: number[] = [];
  /** Open <form> elements (a nested one is ignored), counted so the check costs nothing on deep pages. */
  private openForms = 0;
  /** Open HTML <template> elements. */
  private openTemplates = 0;
  /** Whether the element being opened was read in SVG or MathML content. */
  private openedInForeignContent = false;
  /** Namespace of the current content, one entry per open svg, math or integration point, over the html root entry. */
  private readonly namespaces: Namespace[] = [Namespace.html];

  constructor(handlers: HtmlHandlers, options: HtmlTokenizerOptions = {}) {
    this.handlers = handlers;
    this.readsAllAttributes = options.attributesFor === undefined;
    this.elementFlags = elementFlagsFor(options.attributesFor);
  }

  /**
   * Whether the reader is inside the contents of an HTML `<template>`, which
   * are not part of the document: what a template holds is parsed into a
   * fragment of its own, as a page's scripts may later clone it.
   * https://html.spec.whatwg.org/multipage/scripting.html#the-template-element
   */
  get inTemplate(): boolean {
    return this.openTemplates > 0;
  }

  /**
   * In `onopentag`: whether the element was read in SVG or MathML content
   * (outside an HTML integration point such as `<foreignObject>`), where
   * `<title>`, `<html>`, `<base>`, `<link>` and `<template>` are SVG or MathML
   * elements, not the HTML ones.
   */
  get inForeignContent(): boolean {
    return this.openedInForeignContent;
  }

  write(chunk: string): void {
    if (this.ended) throw new HtmlTokenizerEndedError();
    this.buffer = this.position < this.buffer.length ? this.buffer.slice(this.position) + chunk : chunk;
    this.position = 0;
    this.nextAmpersand = -1;
    this.nextEscapeEnd = this.nextScriptEnd = this.nextEscapeBang = -1;
    if (this.buffer.length >= this.retryLength) this.read(false);
  }

  /** Reads what is left (a cut-off tag or comment is dropped, as at the end of a page) and closes every open element. */
  end(): void {
    if (this.ended) throw new HtmlTokenizerEndedError();
    this.ended = true;
    this.read(true);
    this.buffer = "";
    while (this.openElements.length > 0) this.popElement();
  }

  private read(final: boolean): void {
    const buffer = this.buffer;
    const length = buffer.length;
    let position = this.position;
    while (position < length) {
      if (this.textMode !== TextMode.data) {
        const next = this.readTextOnly(buffer, position, final);
        if (next < 0) {
          position = ~next;
          break;
        }
        position = next;
        continue;
      }
      const markup = this.findMarkup(buffer, position, final);
      if (markup < 0) {
        const textEnd = final ? length : this.referenceTailStart(buffer, position, length);
        this.emitText(buffer, position, textEnd, true);
        position = textEnd;
        break;
      }
      this.emitText(buffer, position, markup, true);
      position = markup;
      const next = this.readMarkup(buffer, markup, final);
      if (next === INCOMPLETE) {
        // At the end of the document a cut-off tag or comment is dropped.
        if (final) position = length;
        break;
      }
      position = next;
    }
    this.position = position;
    this.retryLength = length === position ? 0 : 2 * (length - position);
  }

  /**
   * The first `<` at or after `from` that starts a tag, end tag, comment or
   * declaration, or could once more input arrives; -1 when the rest is text.
   */
  private findMarkup(buffer: string, from: number, final: boolean): number {
    const length = buffer.length;
    for (let lessThan = buffer.indexOf("<", from); lessThan >= 0; lessThan = buffer.indexOf("<", lessThan + 1)) {
      if (lessThan + 1 >= length) return final ? -1 : lessThan;
      const code = buffer.charCodeAt(lessThan + 1);
      if (isAsciiAlpha(code) || code === BANG || code === 0x3f /* ? */) return lessThan;
      // `</` at the very end of the document is text.
      if (code === SLASH) return lessThan + 2 < length || !final ? lessThan : -1;
    }
    return -1;
  }

  /** Reads the markup at `start` (a `<`), returning where it ends, or `INCOMPLETE`. */
  private readMarkup(buffer: string, start: number, final: boolean): number {
    const length = buffer.length;
    if (start + 1 >= length) return INCOMPLETE;
    const code = buffer.charCodeAt(start + 1);
    if (isAsciiAlpha(code)) return this.readStartTag(buffer, start);
    if (code === BANG) return this.readDeclaration(buffer, start + 2, final);
    if (code === SLASH) {
      if (start + 2 >= length) return INCOMPLETE;
      const next = buffer.charCodeAt(start + 2);
      if (isAsciiAlpha(next)) return this.readEndTag(buffer, start + 2);
      // `</>` is dropped; `</` followed by anything else opens a bogus comment.
      if (next === GREATER_THAN) return start + 3;
    }
    return skipPast(buffer, start + 2, ">");
  }

  private readStartTag(buffer: string, start: number): number {
    const nameEnd = scanTagName(buffer, start + 1);
    if (nameEnd < 0) return INCOMPLETE;
    const inHtml = this.namespaces[this.namespaces.length - 1] === Namespace.html;
    const name = this.adjustName(TAG_NAMES.find(buffer, start + 1, nameEnd) ?? lowerCaseSlice(buffer, start + 1, nameEnd));
    const flags = this.elementFlags.get(name) ?? 0;
    const attributes = this.readsAllAttributes || (flags & ElementFlag.readsAttributes) !== 0 ? {} : undefined;
    let end: number;
    if (buffer.charCodeAt(nameEnd) === GREATER_THAN) {
      end = nameEnd + 1;
      this.selfClosing = false;
    } else {
      end = this.readAttributes(buffer, nameEnd, attributes);
      if (end === INCOMPLETE) return INCOMPLETE;
    }
    this.openElement(name, flags, attributes ?? EMPTY_ATTRIBUTES, this.selfClosing);
    // Whether an element holds only text is decided by the namespace it starts in (htmlparser2 does the same).
    if (inHtml && (flags & (ElementFlag.rawText | ElementFlag.escapableRawText | ElementFlag.plainText | ElementFlag.scriptData)) !== 0) {
      this.textMode =
        (flags & ElementFlag.scriptData) !== 0
          ? TextMode.scriptData
          : (flags & ElementFlag.rawText) !== 0
            ? TextMode.rawText
            : (flags & ElementFlag.escapableRawText) !== 0
              ? TextMode.escapableRawText
              : TextMode.plainText;
      this.textElement = name;
      this.scriptState = ScriptState.data;
    }
    return end;
  }

  private readEndTag(buffer: string, nameStart: number): number {
    const nameEnd = scanTagName(buffer, nameStart);
    if (nameEnd < 0) return INCOMPLETE;
    // An end tag's attributes are tokenized (a quoted `>` does not end it) and ignored.
    const end = buffer.charCodeAt(nameEnd) === GREATER_THAN ? nameEnd + 1 : this.readAttributes(buffer, nameEnd, undefined);
    if (end === INCOMPLETE) return INCOMPLETE;
    this.closeElement(this.adjustName(TAG_NAMES.find(buffer, nameStart, nameEnd) ?? lowerCaseSlice(buffer, nameStart, nameEnd)));
    return end;
  }

  /** After `<!`: a comment, CDATA in SVG / MathML, or a doctype or bogus comment, both ignored up to `>`. */
  private readDeclaration(buffer: string, start: number, final: boolean): number {
    const length = buffer.length;
    if (buffer.startsWith("--", start)) return readComment(buffer, start + 2);
    if (start >= length || (start + 1 === length && buffer.charCodeAt(start) === 0x2d /* - */)) return INCOMPLETE;
    if (this.namespaces[this.namespaces.length - 1] !== Namespace.html && buffer.charCodeAt(start) === 0x5b /* [ */) {
      if (buffer.startsWith("[CDATA[", start)) return this.readCdata(buffer, start + 7, final);
      if (length - start < 7 && "[CDATA[".startsWith(buffer.slice(start))) return INCOMPLETE;
    }
    return skipPast(buffer, start, ">");
  }

  /** https://html.spec.whatwg.org/multipage/parsing.html#cdata-section-state: text up to `]]>`, or to the end of the document. */
  private readCdata(buffer: string, start: number, final: boolean): number {
    const close = buffer.indexOf("]]>", start);
    if (close < 0 && !final) return INCOMPLETE;
    const end = close < 0 ? buffer.length : close;
    this.emitText(buffer, start, end, false);
    return close < 0 ? end : close + 3;
  }

  /**
   * Text of a raw-text element up to its end tag. Returns where reading goes
   * on, or its bitwise complement when the buffer ended first (after giving
   * out the text that cannot be part of the end tag or of a reference).
   */
  private readTextOnly(buffer: string, start: number, final: boolean): number {
    const length = buffer.length;
    const decode = this.textMode === TextMode.escapableRawText;
    if (this.textMode === TextMode.plainText) {
      this.emitText(buffer, start, length, false);
      return length;
    }
    if (this.textMode === TextMode.scriptData) return this.readScriptData(buffer, start, final);
    const name = this.textElement;
    let candidate = buffer.indexOf("</", start);
    for (; candidate >= 0; candidate = buffer.indexOf("</", candidate + 1)) {
      const nameEnd = candidate + 2 + name.length;
      if (nameEnd >= length) break;
      if (!isTagNameEnd(buffer.charCodeAt(nameEnd)) || !matchesLowerCase(buffer, candidate + 2, name)) continue;
      const end = this.readAttributes(buffer, nameEnd, undefined);
      if (end === INCOMPLETE && !final) break;
      this.emitText(buffer, start, candidate, decode);
      this.textMode = TextMode.data;
      this.textElement = "";
      // An end tag cut off by the end of the document is dropped; end() closes the element.
      if (end === INCOMPLETE) return length;
      this.closeElement(name);
      return end;
    }
    if (final) {
      this.emitText(buffer, start, length, decode);
      return length;
    }
    // Keep what may be the start of the end tag (`</scr`, or a lone `<`) for the next chunk.
    let textEnd = candidate >= 0 ? candidate : buffer.charCodeAt(length - 1) === LESS_THAN ? length - 1 : length;
    if (decode) textEnd = this.referenceTailStart(buffer, start, textEnd);
    this.emitText(buffer, start, textEnd, decode);
    return ~textEnd;
  }

  /**
   * `readTextOnly` for a script: its text runs to the first `</script` that is
   * not inside a double-escaped section (`<!-- <script> … </script> … -->`),
   * as in pages that `document.write` a script tag.
   * https://html.spec.whatwg.org/multipage/parsing.html#script-data-state and the states after it.
   */
  private readScriptData(buffer: string, start: number, final: boolean): number {
    const length = buffer.length;
    let scan = start;
    for (;;) {
      if (this.nextScriptEnd < scan) this.nextScriptEnd = indexOfScriptTag(buffer, scan, length, "</");
      const endTag = this.nextScriptEnd;
      if (this.scriptState === ScriptState.data) {
        const escapeStart = this.indexOfEscapeStart(buffer, scan, endTag);
        if (escapeStart < endTag) {
          this.scriptState = ScriptState.escaped;
          // From the first dash: `<!-->` opens and closes the escape at once.
          scan = escapeStart + 2;
          continue;
        }
      } else {
        if (this.nextEscapeEnd < scan) this.nextEscapeEnd = indexOrLength(buffer, "-->", scan);
        const escapeEnd = this.nextEscapeEnd;
        if (this.scriptState === ScriptState.escaped) {
          const scriptStart = indexOfScriptTag(buffer, scan, Math.min(escapeEnd, endTag), "<");
          if (scriptStart < escapeEnd && scriptStart < endTag) {
            this.scriptState = ScriptState.doubleEscaped;
            scan = scriptStart + "<script".length + 1;
            continue;
          }
        }
        if (escapeEnd < endTag) {
          this.scriptState = ScriptState.data;
          scan = escapeEnd + "-->".length;
          continue;
        }
        if (this.scriptState === ScriptState.doubleEscaped && endTag < length) {
          this.scriptState = ScriptState.escaped;
          scan = endTag + "</script".length + 1;
          continue;
        }
      }
      if (endTag < length) {
        const end = this.readAttributes(buffer, endTag + "</script".length, undefined);
        if (end === INCOMPLETE && !final) {
          this.emitText(buffer, start, endTag, false);
          return ~endTag;
        }
        this.emitText(buffer, start, endTag, false);
        this.textMode = TextMode.data;
        this.textElement = "";
        // An end tag cut off by the end of the document is dropped; end() closes the element.
        if (end === INCOMPLETE) return length;
        this.closeElement("script");
        return end;
      }
      if (final) {
        this.emitText(buffer, start, length, false);
        return length;
      }
      // Keep what may be the start of a construct the next chunk completes (`<scri`, `<!-`, `--`).
      const textEnd = scriptTailStart(buffer, scan, this.scriptState);
      this.emitText(buffer, start, textEnd, false);
      return ~textEnd;
    }
  }

  /**
   * The first `<!--` at or after `from` and before `bound`, or `bound`. It
   * looks for `!--` and then the `<` before it: V8's `indexOf` finds a short
   * pattern by its first character, and `<` is everywhere in HTML, `!` much
   * rarer. The next `!--` is kept between calls, so the search covers the
   * buffer once however many scripts it holds.
   */
  private indexOfEscapeStart(buffer: string, from: number, bound: number): number {
    if (this.nextEscapeBang <= from) this.nextEscapeBang = indexOrLength(buffer, "!--", from + 1);
    for (; this.nextEscapeBang < bound; this.nextEscapeBang = indexOrLength(buffer, "!--", this.nextEscapeBang + 1)) {
      if (buffer.charCodeAt(this.nextEscapeBang - 1) === LESS_THAN) return this.nextEscapeBang - 1;
    }
    return bound;
  }

  /**
   * Reads attributes from `start` (just after a tag name) to the tag's `>`,
   * into `attributes` when given, and sets `selfClosing`. Returns the index
   * after `>`, or `INCOMPLETE`.
   * https://html.spec.whatwg.org/multipage/parsing.html#before-attribute-name-state and the states after it.
   */
  private readAttributes(buffer: string, start: number, attributes: Record<string, string> | undefined): number {
    const length = buffer.length;
    let index = start;
    for (;;) {
      // Before attribute name.
      let code = 0;
      while (index < length && isWhitespace((code = buffer.charCodeAt(index)))) index++;
      if (index >= length) return INCOMPLETE;
      if (code === GREATER_THAN) {
        this.selfClosing = false;
        return index + 1;
      }
      if (code === SLASH) {
        if (index + 1 >= length) return INCOMPLETE;
        if (buffer.charCodeAt(index + 1) === GREATER_THAN) {
          this.selfClosing = true;
          return index + 2;
        }
        index++;
        continue;
      }
      // Attribute name: its first character may be `=`.
      const nameStart = index++;
      while (index < length && !isAttributeNameEnd((code = buffer.charCodeAt(index)))) index++;
      const nameEnd = index;
      // After attribute name.
      while (index < length && isWhitespace((code = buffer.charCodeAt(index)))) index++;
      if (index >= length) return INCOMPLETE;
      if (code !== EQUALS) {
        if (attributes !== undefined) addAttribute(attributes, buffer, nameStart, nameEnd, "");
        continue;
      }
      // Before attribute value.
      index++;
      while (index < length && isWhitespace((code = buffer.charCodeAt(index)))) index++;
      if (index >= length) return INCOMPLETE;
      if (code === DOUBLE_QUOTE || code === SINGLE_QUOTE) {
        const close = buffer.indexOf(code === DOUBLE_QUOTE ? '"' : "'", index + 1);
        if (close < 0) return INCOMPLETE;
        if (attributes !== undefined) addAttribute(attributes, buffer, nameStart, nameEnd, buffer.slice(index + 1, close));
        index = close + 1;
        continue;
      }
      if (code === GREATER_THAN) {
        // A missing value: the attribute is empty and the tag ends here.
        if (attributes !== undefined) addAttribute(attributes, buffer, nameStart, nameEnd, "");
        this.selfClosing = false;
        return index + 1;
      }
      const valueStart = index;
      while (index < length && !hasClass(buffer.charCodeAt(index), CharClass.unquotedValueEnd)) index++;
      if (index >= length) return INCOMPLETE;
      if (attributes !== undefined) addAttribute(attributes, buffer, nameStart, nameEnd, buffer.slice(valueStart, index));
    }
  }

  /**
   * Gives out `buffer[start, end)`, with references decoded when `decode`:
   * the text between references as ranges of the buffer, each reference as
   * its own decoded string. A handler then scans the flat input, not a
   * decoded copy pieced together from parts.
   */
  private emitText(buffer: string, start: number, end: number, decode: boolean): void {
    if (start >= end) return;
    let position = start;
    if (decode) {
      if (this.nextAmpersand < start) this.nextAmpersand = indexOrLength(buffer, "&", start);
      while (this.nextAmpersand < end) {
        const ampersand = this.nextAmpersand;
        const referenceEnd = referenceEndAt(buffer, ampersand, end);
        this.emitRange(buffer, position, ampersand);
        const decoded = decodeHTML(buffer.slice(ampersand, referenceEnd));
        this.emitRange(decoded, 0, decoded.length);
        position = referenceEnd;
        this.nextAmpersand = indexOrLength(buffer, "&", position);
      }
    }
    this.emitRange(buffer, position, end);
  }

  private emitRange(source: string, start: number, end: number): void {
    if (start >= end) return;
    if (this.handlers.ontext !== undefined) this.handlers.ontext(source.slice(start, end));
    this.handlers.ontextrange?.(source, start, end);
  }

  /**
   * Where text that runs to the end of the buffer must stop so that a
   * character reference still being written (`&am`, `&#12`) is decoded whole
   * with the next chunk: at its `&`, or `end` when there is none.
   */
  private referenceTailStart(buffer: string, start: number, end: number): number {
    let index = end;
    while (index > start && isReferenceChar(buffer.charCodeAt(index - 1))) index--;
    return index > start && buffer.charCodeAt(index - 1) === AMPERSAND ? index - 1 : end;
  }

  /** htmlparser2's name handling: SVG names camel-cased, `image` read as `img` in HTML. */
  private adjustName(name: string): string {
    const namespace = this.namespaces[this.namespaces.length - 1];
    if (namespace === Namespace.svg) return SVG_TAG_NAMES.get(name) ?? name;
    if (this.namespaces.length > 1) {
      // The end tag of an SVG element that holds HTML content (`</foreignObject>` inside it).
      const adjusted = SVG_TAG_NAMES.get(name);
      if (adjusted !== undefined && this.findOpenElement(adjusted) >= 0) return adjusted;
    }
    return namespace === Namespace.html && name === "image" ? "img" : name;
  }

  private openElement(name: string, flags: number, attributes: HtmlAttributes, selfClosing: boolean): void {
    const open = this.openElements;
    // A second <form> inside an open one is ignored altogether, except in a template's contents.
    // https://html.spec.whatwg.org/multipage/parsing.html#parsing-main-inbody (A start tag whose tag name is "form")
    if (name === "form" && this.openForms > 0 && this.openTemplates === 0) return;
    if ((flags & ElementFlag.closesOthers) !== 0) {
      const closes = OPEN_IMPLIES_CLOSE.get(name);
      while (closes !== undefined && open.length > 0 && closes.has(open[open.length - 1])) this.popElement();
    }
    const inForeignContent = this.namespaces[this.namespaces.length - 1] !== Namespace.html;
    this.openedInForeignContent = inForeignContent;
    if ((flags & ElementFlag.void) !== 0) {
      this.handlers.onopentag?.(name, attributes);
      this.handlers.onclosetag?.(name);
      return;
    }
    // A <template> in SVG or MathML is an element like any other there.
    const elementFlags = inForeignContent ? flags & ~ElementFlag.template : flags;
    open.push(name);
    this.openElementFlags.push(elementFlags);
    if (name === "form") this.openForms++;
    if ((elementFlags & ElementFlag.template) !== 0) this.openTemplates++;
    if ((flags & ElementFlag.foreignRoot) !== 0) this.namespaces.push(name === "svg" ? Namespace.svg : Namespace.mathMl);
    else if ((flags & ElementFlag.integrationPoint) !== 0) this.namespaces.push(Namespace.html);
    this.handlers.onopentag?.(name, attributes);
    if (selfClosing && this.namespaces[this.namespaces.length - 1] !== Namespace.html && open[open.length - 1] === name) this.popElement();
  }

  private closeElement(name: string): void {
    const open = this.openElements;
    // The usual case: the end tag of the current element (never a void one, which is not kept open).
    if (open[open.length - 1] === name) {
      this.popElement();
      return;
    }
    const flags = ELEMENT_FLAGS.get(name) ?? 0;
    if ((flags & ElementFlag.void) !== 0) {
      // `</br>` is read as `<br>`; other void end tags are ignored.
      if (name === "br") {
        this.handlers.onopentag?.("br", EMPTY_ATTRIBUTES);
        this.handlers.onclosetag?.("br");
      }
      return;
    }
    const index = this.findOpenElement(name);
    if (index >= 0) {
      while (open.length > index) this.popElement();
    } else if (name === "p") {
      // `</p>` without an open <p> is read as `<p></p>`.
      this.openElement("p", flags, EMPTY_ATTRIBUTES, false);
      this.popElement();
    }
  }

  /**
   * Where the innermost open `name` is in `openElements`, or -1. Only the
   * innermost `MAX_END_TAG_REACH` are searched, so that a hostile page of
   * thousands of nested elements and thousands of stray end tags costs
   * linear time, not quadratic: extraction runs synchronously on the worker.
   * An end tag inside a template's contents does not reach past the template:
   * it is a scope boundary and a special element to the tree builder
   * (https://html.spec.whatwg.org/multipage/parsing.html#has-an-element-in-scope).
   */
  private findOpenElement(name: string): number {
    const open = this.openElements;
    const flags = this.openElementFlags;
    const last = Math.max(0, open.length - MAX_END_TAG_REACH);
    for (let index = open.length - 1; index >= last; index--) {
      if (open[index] === name) return index;
      if ((flags[index] & ElementFlag.template) !== 0) return -1;
    }
    return -1;
  }

  private popElement(): void {
    const name = this.openElements.pop();
    const flags = this.openElementFlags.pop() ?? 0;
    if (name === undefined) return;
    if (name === "form") this.openForms--;
    if ((flags & ElementFlag.template) !== 0) this.openTemplates--;
    if ((flags & (ElementFlag.foreignRoot | ElementFlag.integrationPoint)) !== 0) this.namespaces.pop();
    this.handlers.onclosetag?.(name);
  }
}

/** Ends an attribute name: whitespace, `/`, `>` or `=`. */
function isAttributeNameEnd(code: number): boolean {
  return hasClass(code, CharClass.attributeNameEnd);
}

/** A character that may continue a character reference after `&`. */
function isReferenceChar(code: number): boolean {
  return isAsciiAlpha(code) || (code >= 0x30 && code <= 0x39) || code === HASH;
}

/**
 * The end of the character reference, if any, at `ampersand`: `#` and
 * letters and digits, then a `;`, no further than `end`. Decoding that slice
 * alone gives what decoding the whole text would: a reference never reads
 * past a character that cannot continue it.
 */
function referenceEndAt(buffer: string, ampersand: number, end: number): number {
  let index = ampersand + 1;
  if (index < end && buffer.charCodeAt(index) === HASH) index++;
  while (index < end && isReferenceChar(buffer.charCodeAt(index)) && buffer.charCodeAt(index) !== HASH) index++;
  return index < end && buffer.charCodeAt(index) === 0x3b /* ; */ ? index + 1 : index;
}

/**
 * The first `<script` (`opener` `<`) or `</script` (`</`) at or after `from`
 * and before `bound` that a whitespace, `/` or `>` follows, or `bound`.
 */
function indexOfScriptTag(buffer: string, from: number, bound: number, opener: "<" | "</"): number {
  const length = buffer.length;
  for (let index = buffer.indexOf(opener, from); index >= 0 && index < bound; index = buffer.indexOf(opener, index + 1)) {
    const nameStart = index + opener.length;
    const nameEnd = nameStart + "script".length;
    if (nameEnd >= length) break;
    if (isTagNameEnd(buffer.charCodeAt(nameEnd)) && matchesLowerCase(buffer, nameStart, "script")) return index;
  }
  return bound;
}


/** What script data may still turn out to hold when a chunk ends, by `ScriptState`: each needs one more character after it. */
const SCRIPT_CONSTRUCTS: readonly (readonly string[])[] = [
  ["</script", "<!-"],
  ["</script", "<script", "--"],
  ["</script", "--"],
];

/**
 * Where script data running to the end of the buffer must stop so that a
 * construct cut off by the chunk's end (`</scr`, `<!-`, `--`) is read whole
 * with the next chunk: at its start, no earlier than `from`, or the length.
 */
function scriptTailStart(buffer: string, from: number, state: ScriptState): number {
  const length = buffer.length;
  for (let index = Math.max(from, length - "</script".length); index < length; index++) {
    const code = buffer.charCodeAt(index);
    if (code !== LESS_THAN && code !== 0x2d /* - */) continue;
    for (const construct of SCRIPT_CONSTRUCTS[state]) {
      if (length - index <= construct.length && matchesLowerCase(buffer, index, construct.slice(0, length - index))) return index;
    }
  }
  return length;
}

/** `buffer.indexOf(search, from)`, or the length when it is not there. */
function indexOrLength(buffer: string, search: string, from: number): number {
  const found = buffer.indexOf(search, from);
  return found < 0 ? buffer.length : found;
}

/** Index of the whitespace, `/` or `>` ending the tag name at `start`, or -1 when the buffer ends first. */
function scanTagName(buffer: string, start: number): number {
  const length = buffer.length;
  for (let index = start; index < length; index++) {
    if (isTagNameEnd(buffer.charCodeAt(index))) return index;
  }
  return -1;
}

/** `buffer[start, end)` lower-cased, copying only when it has an upper-case or non-ASCII character. */
function lowerCaseSlice(buffer: string, start: number, end: number): string {
  const slice = buffer.slice(start, end);
  for (let index = start; index < end; index++) {
    const code = buffer.charCodeAt(index);
    if ((code >= 0x41 && code <= 0x5a) || code >= 0x80) return slice.toLowerCase();
  }
  return slice;
}

/** Whether `buffer` at `start` spells `name` (lower-case letters) in any case. */
function matchesLowerCase(buffer: string, start: number, name: string): boolean {
  for (let index = 0; index < name.length; index++) {
    if ((buffer.charCodeAt(start + index) | 0x20) !== name.charCodeAt(index)) return false;
  }
  return true;
}

/** The index after the next `terminator` at or after `start`, or `INCOMPLETE`. */
function skipPast(buffer: string, start: number, terminator: string): number {
  const found = buffer.indexOf(terminator, start);
  return found < 0 ? INCOMPLETE : found + terminator.length;
}

/**
 * A comment whose text starts at `start` (after `<!--`): it ends at `-->` or
 * `--!>`, or at once for `<!-->` and `<!--->`. Returns the index after it, or `INCOMPLETE`.
 * https://html.spec.whatwg.org/multipage/parsing.html#comment-start-state
 */
function readComment(buffer: string, start: number): number {
  const length = buffer.length;
  if (start >= length) return INCOMPLETE;
  if (buffer.charCodeAt(start) === GREATER_THAN) return start + 1;
  if (buffer.charCodeAt(start) === 0x2d /* - */) {
    if (start + 1 >= length) return INCOMPLETE;
    if (buffer.charCodeAt(start + 1) === GREATER_THAN) return start + 2;
  }
  for (let dashes = buffer.indexOf("--", start); dashes >= 0; dashes = buffer.indexOf("--", dashes + 1)) {
    if (dashes + 2 >= length) return INCOMPLETE;
    const code = buffer.charCodeAt(dashes + 2);
    if (code === GREATER_THAN) return dashes + 3;
    if (code === BANG) {
      if (dashes + 3 >= length) return INCOMPLETE;
      if (buffer.charCodeAt(dashes + 3) === GREATER_THAN) return dashes + 4;
    }
  }
  return INCOMPLETE;
}

function addAttribute(attributes: Record<string, string>, buffer: string, nameStart: number, nameEnd: number, rawValue: string): void {
  const name = ATTRIBUTE_NAMES.find(buffer, nameStart, nameEnd) ?? lowerCaseSlice(buffer, nameStart, nameEnd);
  const value = rawValue.includes("&") ? decodeHTMLAttribute(rawValue) : rawValue;
  // The first of duplicate names wins. The names read most often get a store
  // of their own: in V8 one keyed store for every name and object shape goes
  // megamorphic and costs more than the rest of reading the attribute.
  switch (name) {
    case "href":
      attributes.href ??= value;
      return;
    case "rel":
      attributes.rel ??= value;
      return;
    case "name":
      attributes.name ??= value;
      return;
    case "content":
      attributes.content ??= value;
      return;
    case "property":
      attributes.property ??= value;
      return;
    case "lang":
      attributes.lang ??= value;
      return;
    case "class":
      attributes.class ??= value;
      return;
    case "id":
      attributes.id ??= value;
      return;
    default:
      if (!Object.hasOwn(attributes, name)) attributes[name] = value;
  }
}
