/**
 * What the fleet keeps from each page. THIS IS WHERE YOUR OWN EXTRACTION GOES:
 * replace `extractPage` (or pass your own `Extractor` to `createWorker`) to
 * pull prices, headings, structured data or anything else out of the HTML.
 * Whatever it returns is stored as `content` in the result record.
 *
 * The default reads the page once with htmlparser2's streaming (SAX) parser,
 * without building a DOM, and keeps: the title, the meta description (or
 * og:description), the canonical URL, the `<html lang>`, the outgoing links
 * and the length of the visible text. Links come from `<a href>` and
 * `<area href>`, resolved against `<base href>` or the page URL; only http(s)
 * is kept, the fragment is dropped, duplicates count once, and empty or
 * fragment-only hrefs (the page itself) are skipped.
 *
 * Keep an extractor fast: it runs on the worker's CPU for every page, between
 * two network waits.
 */
import { Parser } from "htmlparser2";
import { decodeHtml } from "./charset";
import type { Extractor } from "./page";

/** Longest title or description kept, in UTF-16 code units. */
export const MAX_META_TEXT = 1000;

/** Decoded text handed to the parser per `write`. */
const CHUNK_CHARS = 16 * 1024;

/** Text collected for a title or description before normalizing; the rest is ignored. */
const MAX_RAW_META_TEXT = 16 * MAX_META_TEXT;

/**
 * Elements whose text is not shown: scripts, styles, templates, the title (it
 * labels the tab, not the page) and fallback content that a browser with
 * scripting and frames does not render.
 */
const NON_VISIBLE_ELEMENTS: ReadonlySet<string> = new Set(["script", "style", "noscript", "template", "title", "iframe", "noembed", "noframes"]);

/**
 * Elements that start a new line when rendered, so `<li>a<li>b` reads "a b"
 * and not "ab". Not the full CSS picture, just the common block elements.
 */
const BLOCK_ELEMENTS: ReadonlySet<string> = new Set([
  "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
  "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
]);

/** Inside these, `<title>` is an SVG/MathML element, not the document title. */
const FOREIGN_ELEMENTS: ReadonlySet<string> = new Set(["svg", "math"]);

export const extractPage: Extractor = ({ body, finalUrl, charset, maxLinks }) => {
  let titleText: string | undefined;
  let titleParts: string[] | undefined;
  let titleRawLength = 0;
  let description: string | undefined;
  let ogDescription: string | undefined;
  let canonicalHref: string | undefined;
  let baseHref: string | undefined;
  let lang: string | undefined;
  let nonVisibleDepth = 0;
  let foreignDepth = 0;
  const hrefs = new Set<string>();
  const text = new VisibleTextCounter();

  const parser = new Parser(
    {
      onopentag(name, attributes) {
        switch (name) {
          case "a":
          case "area":
            if (attributes.href !== undefined) hrefs.add(attributes.href);
            return;
          case "meta":
            readMeta(attributes);
            return;
          case "link":
            if (canonicalHref === undefined && attributes.href !== undefined && hasToken(attributes.rel, "canonical")) canonicalHref = attributes.href;
            return;
          case "base":
            // Only the first <base> with an href sets the document base URL.
            // https://html.spec.whatwg.org/multipage/semantics.html#the-base-element
            baseHref ??= attributes.href;
            return;
          case "html":
            lang ??= nonEmpty(attributes.lang?.trim());
            return;
          case "title":
            if (titleParts === undefined && titleText === undefined && foreignDepth === 0) titleParts = [];
            break;
        }
        if (NON_VISIBLE_ELEMENTS.has(name)) nonVisibleDepth++;
        else if (FOREIGN_ELEMENTS.has(name)) foreignDepth++;
        else if (BLOCK_ELEMENTS.has(name)) text.breakLine();
      },
      onclosetag(name) {
        if (name === "title" && titleParts !== undefined) {
          titleText = normalizeMetaText(titleParts.join("")) ?? "";
          titleParts = undefined;
        }
        if (NON_VISIBLE_ELEMENTS.has(name)) nonVisibleDepth = Math.max(0, nonVisibleDepth - 1);
        else if (FOREIGN_ELEMENTS.has(name)) foreignDepth = Math.max(0, foreignDepth - 1);
        else if (BLOCK_ELEMENTS.has(name)) text.breakLine();
      },
      ontext(data) {
        if (titleParts !== undefined) {
          if (titleRawLength < MAX_RAW_META_TEXT) titleParts.push(data);
          titleRawLength += data.length;
        }
        if (nonVisibleDepth === 0) text.add(data);
      },
    },
    { decodeEntities: true },
  );

  function readMeta(attributes: Record<string, string>): void {
    const content = attributes.content;
    if (content === undefined) return;
    const name = attributes.name?.trim().toLowerCase();
    if (name === "description") {
      description ??= normalizeMetaText(content);
    } else if (name === "og:description" || attributes.property?.trim().toLowerCase() === "og:description") {
      ogDescription ??= normalizeMetaText(content);
    }
  }

  const html = decodeHtml(body, charset);
  for (let start = 0; start < html.length; start += CHUNK_CHARS) parser.write(html.slice(start, start + CHUNK_CHARS));
  // end() closes every element still open, so an unclosed <title> ends here
  // with the rest of the document as its text, as in a browser.
  parser.end();

  const documentBase = resolveDocumentBase(finalUrl, baseHref);
  const { links, linkCount } = resolveLinks(hrefs, documentBase, maxLinks);
  const canonical = canonicalHref === undefined ? undefined : resolveHttpUrl(canonicalHref, documentBase);

  return {
    title: nonEmpty(titleText),
    description: description ?? ogDescription,
    canonical,
    lang,
    links,
    linkCount,
    textLength: text.length,
  };
};

/**
 * Counts visible characters (Unicode code points) with every run of ASCII
 * whitespace, also across element boundaries, counted as one space and no
 * leading or trailing whitespace. A char-code loop: no string is built.
 */
class VisibleTextCounter {
  length = 0;
  private pendingSpace = false;

  /** A block boundary separates words like whitespace does. */
  breakLine(): void {
    this.pendingSpace = this.length > 0;
  }

  add(data: string): void {
    for (let index = 0; index < data.length; index++) {
      const code = data.charCodeAt(index);
      if (code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d || code === 0x0c) {
        this.pendingSpace = this.length > 0;
      } else if (code < 0xdc00 || code > 0xdfff) {
        // A low surrogate is the second half of a code point already counted.
        if (this.pendingSpace) {
          this.length++;
          this.pendingSpace = false;
        }
        this.length++;
      }
    }
  }
}

function resolveLinks(hrefs: Iterable<string>, documentBase: string, maxLinks: number): { links: string[]; linkCount: number } {
  const resolver = new LinkResolver(documentBase);
  const seen = new Set<string>();
  const links: string[] = [];
  for (const href of hrefs) {
    const resolved = resolver.resolve(href);
    if (resolved === undefined || seen.has(resolved)) continue;
    seen.add(resolved);
    if (links.length < maxLinks) links.push(resolved);
  }
  return { links, linkCount: seen.size };
}

/**
 * Characters the URL parser copies unchanged into an http(s) path or query:
 * unreserved and sub-delimiters, `:`, `@`, `/` and `?`. Not `'` (encoded in a
 * special URL's query), not `%` (`%2e` is a dot segment), not `\` (read as `/`).
 * https://url.spec.whatwg.org/#path-percent-encode-set
 */
const PLAIN_CHARS = new Uint8Array(128);
for (const char of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&()*+,;=:@/?") PLAIN_CHARS[char.charCodeAt(0)] = 1;

/**
 * Resolves hrefs against one base URL, fragment removed. Most hrefs on a page
 * are plain paths (`/a/b?c=1`, `b.html`) that the URL parser would copy as
 * they are, so those are joined to the base directly; the rest, and every
 * href that only might be unusual, go through the URL parser, the costliest
 * step of link extraction. Tests compare both paths with the parser.
 */
class LinkResolver {
  /** `scheme://host[:port]`, when the base is http(s) without credentials (which a joined URL would lose). */
  private readonly origin: string | undefined;
  /** The base up to the last `/` of its path, for relative paths. */
  private readonly directory: string | undefined;

  constructor(private readonly base: string) {
    const parsed = URL.parse(base);
    if (parsed !== null && (parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.username === "" && parsed.password === "") {
      this.origin = parsed.origin;
      this.directory = parsed.origin + parsed.pathname.slice(0, parsed.pathname.lastIndexOf("/") + 1);
    }
  }

  resolve(href: string): string | undefined {
    if (!mayBeHttpReference(href)) return undefined;
    const plainEnd = this.origin === undefined ? -1 : plainPathEnd(href);
    if (plainEnd >= 0) return (href.charCodeAt(0) === 0x2f /* / */ ? this.origin : this.directory) + href.slice(0, plainEnd);
    const resolved = resolveHttpUrl(href, this.base);
    return resolved === undefined ? undefined : stripFragment(resolved);
  }
}

/**
 * Where the fragment of a plain path-absolute (`/a/b?c`) or path-relative
 * (`b/c.html`) reference starts (its length when it has none), or -1 when
 * the reference is anything else: another character, a scheme or a network
 * path (`//host`), a leading `?`, or a `.` / `..` segment, which the parser
 * would remove.
 */
function plainPathEnd(href: string): number {
  const first = href.charCodeAt(0);
  if (first === 0x3f /* ? */ || (first === 0x2f && href.charCodeAt(1) === 0x2f)) return -1;
  let segmentStart = 0;
  let inQuery = false;
  for (let index = 0; index < href.length; index++) {
    const code = href.charCodeAt(index);
    if (code === 0x23 /* # */) return inQuery || !isDotSegment(href, segmentStart, index) ? index : -1;
    if (code >= 128 || PLAIN_CHARS[code] === 0) return -1;
    if (inQuery) continue;
    if (code === 0x2f /* / */ || code === 0x3f /* ? */) {
      if (isDotSegment(href, segmentStart, index)) return -1;
      segmentStart = index + 1;
      inQuery = code === 0x3f;
    } else if (code === 0x3a /* : */ && segmentStart === 0 && first !== 0x2f) {
      // A colon in the first segment of a relative reference makes it a scheme.
      return -1;
    }
  }
  return inQuery || !isDotSegment(href, segmentStart, href.length) ? href.length : -1;
}

function isDotSegment(href: string, start: number, end: number): boolean {
  const length = end - start;
  return (length === 1 && href.charCodeAt(start) === 0x2e) || (length === 2 && href.charCodeAt(start) === 0x2e && href.charCodeAt(start + 1) === 0x2e);
}

/**
 * A cheap look at an href before anything else. False for an empty or
 * fragment-only href (the page itself) and for an explicit scheme other than
 * http(s) (`javascript:`, `mailto:`, `tel:`, `data:` …). Anything unusual
 * (tabs or newlines inside the scheme, which the URL parser removes) is left
 * to the parser, whose result `resolveHttpUrl` checks again.
 */
function mayBeHttpReference(href: string): boolean {
  let start = 0;
  // The URL parser strips leading C0 controls and spaces.
  while (start < href.length && href.charCodeAt(start) <= 0x20) start++;
  if (start === href.length || href.charCodeAt(start) === 0x23 /* # */) return false;
  for (let index = start; index < href.length; index++) {
    const code = href.charCodeAt(index);
    if (code === 0x3a /* : */ && index > start) {
      const scheme = href.slice(start, index).toLowerCase();
      return scheme === "http" || scheme === "https";
    }
    const isSchemeChar =
      (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) || (index > start && ((code >= 0x30 && code <= 0x39) || code === 0x2b || code === 0x2d || code === 0x2e));
    if (!isSchemeChar) return true;
  }
  return true;
}

/** The absolute http(s) URL an href names, or `undefined`. */
function resolveHttpUrl(href: string, base: string): string | undefined {
  const url = URL.parse(href, base);
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) return undefined;
  return url.href;
}

/** A serialized URL has `#` only as the fragment delimiter; other `#` are percent-encoded. */
function stripFragment(href: string): string {
  const hash = href.indexOf("#");
  return hash < 0 ? href : href.slice(0, hash);
}

/**
 * The URL relative references resolve against: the first `<base href>`, unless
 * it does not parse or is a `data:` / `javascript:` URL, in which case the page
 * URL. https://html.spec.whatwg.org/multipage/urls-and-fetching.html#document-base-url
 */
function resolveDocumentBase(pageUrl: string, baseHref: string | undefined): string {
  if (baseHref === undefined) return pageUrl;
  const base = URL.parse(baseHref.trim(), pageUrl);
  if (base === null || base.protocol === "data:" || base.protocol === "javascript:") return pageUrl;
  return base.href;
}

function hasToken(list: string | undefined, token: string): boolean {
  if (list === undefined) return false;
  return list.toLowerCase().split(/[\t\n\f\r ]+/).includes(token);
}

/** Whitespace runs collapsed, trimmed, capped at `MAX_META_TEXT` without splitting a surrogate pair. */
function normalizeMetaText(raw: string): string | undefined {
  const collapsed = raw.slice(0, MAX_RAW_META_TEXT).replace(/[\t\n\f\r ]+/g, " ").trim();
  if (collapsed.length <= MAX_META_TEXT) return nonEmpty(collapsed);
  const cut = isHighSurrogate(collapsed.charCodeAt(MAX_META_TEXT - 1)) ? MAX_META_TEXT - 1 : MAX_META_TEXT;
  return collapsed.slice(0, cut).trimEnd();
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
