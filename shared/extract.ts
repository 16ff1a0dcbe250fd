/**
 * What the fleet keeps from each page. THIS IS WHERE YOUR OWN EXTRACTION GOES:
 * replace `extractPage` (or pass your own `Extractor` to `createWorker`) to
 * pull prices, headings, structured data or anything else out of the HTML.
 * Whatever it returns is stored as `content` in the result record.
 *
 * The default reads the page once, without building a DOM, with the
 * streaming (SAX) reader in `./htmlTokenizer`. Its events are those of
 * htmlparser2's `Parser` (`onopentag`, `onclosetag`, `ontext`), so handlers
 * written for one run on the other. It keeps: the title, the meta description
 * (or og:description), the canonical URL, the `<html lang>`, the outgoing
 * links and the length of the visible text. Links come from `<a href>` and
 * `<area href>`, resolved against `<base href>` or the page URL; only http(s)
 * is kept, the fragment is dropped, duplicates count once, and empty or
 * fragment-only hrefs (the page itself) are skipped.
 *
 * Keep an extractor fast: it runs on the worker's CPU for every page, between
 * two network waits. Name the elements whose attributes you read in
 * `attributesFor` (the reader skips the others' attributes), and prefer
 * `ontextrange` to `ontext` when you only scan the text.
 */
import { decodeHtml } from "./charset";
import { HtmlTokenizer, type HtmlAttributes } from "./htmlTokenizer";
import type { Extractor } from "./page";

/** Longest title or description kept, in UTF-16 code units. */
export const MAX_META_TEXT = 1000;

/** Text collected for a title or description before normalizing; the rest is ignored. */
const MAX_RAW_META_TEXT = 16 * MAX_META_TEXT;

/**
 * Elements whose text is not shown: scripts, styles, templates, the title (it
 * labels the tab, not the page) and fallback content that a browser with
 * scripting and frames does not render.
 */
const NON_VISIBLE_ELEMENTS = ["script", "style", "noscript", "template", "title", "iframe", "noembed", "noframes"] as const;

/**
 * Elements that start a new line when rendered, so `<li>a<li>b` reads "a b"
 * and not "ab". Not the full CSS picture, just the common block elements.
 */
const BLOCK_ELEMENTS = [
  "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
  "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
] as const;

/** What an element does to the visible text. */
const TextRole = { nonVisible: 1, block: 2 } as const;
type TextRole = (typeof TextRole)[keyof typeof TextRole];

/** The two lists above as one map: one look-up per tag. */
const TEXT_ROLES: ReadonlyMap<string, TextRole> = new Map<string, TextRole>([
  ...NON_VISIBLE_ELEMENTS.map((name) => [name, TextRole.nonVisible] as const),
  ...BLOCK_ELEMENTS.map((name) => [name, TextRole.block] as const),
]);

/** The elements whose attributes the extractor reads; the reader skips the attributes of all others. */
const ELEMENTS_WITH_ATTRIBUTES: ReadonlySet<string> = new Set(["a", "area", "meta", "link", "base", "html"]);

export const extractPage: Extractor = ({ body, finalUrl, charset, maxLinks }) => {
  let titleText: string | undefined;
  let titleParts: string[] | undefined;
  let titleRawLength = 0;
  let description: string | undefined;
  let ogDescription: string | undefined;
  let canonicalHref: string | undefined;
  let baseHref: string | undefined;
  let lang: string | undefined;
  let langSeen = false;
  let nonVisibleDepth = 0;
  // Every href in page order; duplicates are removed after resolving, so they cost no hashing here.
  const hrefs: string[] = [];
  const text = new VisibleTextCounter();

  const reader = new HtmlTokenizer(
    {
      onopentag(name, attributes) {
        // What a <template> holds is not part of the page (its text is not visible either, see NON_VISIBLE_ELEMENTS).
        switch (name) {
          case "a":
          case "area":
            if (attributes.href !== undefined && !reader.inTemplate) hrefs.push(attributes.href);
            return;
          case "meta":
            // An HTML <meta> inside SVG breaks out of it, so SVG content does not matter here.
            if (!reader.inTemplate) readMeta(attributes);
            return;
          case "link":
            if (canonicalHref === undefined && attributes.href !== undefined && isDocumentElement() && hasToken(attributes.rel, "canonical")) canonicalHref = attributes.href;
            return;
          case "base":
            // Only the first <base> with an href sets the document base URL.
            // https://html.spec.whatwg.org/multipage/semantics.html#the-base-element
            if (baseHref === undefined && isDocumentElement()) baseHref = attributes.href;
            return;
          case "html":
            // The root takes the first `lang` of any <html> start tag: a later one adds only the attributes the
            // root lacks, and an empty `lang=""` is one it has.
            // https://html.spec.whatwg.org/multipage/parsing.html#parsing-main-inbody (A start tag whose tag name is "html")
            if (!langSeen && attributes.lang !== undefined && isDocumentElement()) {
              langSeen = true;
              lang = nonEmpty(attributes.lang.trim());
            }
            return;
          case "title":
            if (titleParts === undefined && titleText === undefined && isDocumentElement()) titleParts = [];
            break;
        }
        const role = TEXT_ROLES.get(name);
        if (role === TextRole.nonVisible) nonVisibleDepth++;
        else if (role === TextRole.block) text.breakLine();
      },
      onclosetag(name) {
        const role = TEXT_ROLES.get(name);
        if (role === undefined) return;
        if (name === "title" && titleParts !== undefined) {
          titleText = normalizeMetaText(titleParts.join("")) ?? "";
          titleParts = undefined;
        }
        if (role === TextRole.nonVisible) nonVisibleDepth = Math.max(0, nonVisibleDepth - 1);
        else text.breakLine();
      },
      ontextrange(source, start, end) {
        if (titleParts !== undefined) {
          if (titleRawLength < MAX_RAW_META_TEXT) titleParts.push(source.slice(start, end));
          titleRawLength += end - start;
        }
        if (nonVisibleDepth === 0) text.add(source, start, end);
      },
    },
    { attributesFor: ELEMENTS_WITH_ATTRIBUTES },
  );

  /** Whether the element opening is the page's own HTML element, not one in a template or an SVG / MathML one of the same name. */
  function isDocumentElement(): boolean {
    return !reader.inTemplate && !reader.inForeignContent;
  }

  function readMeta(attributes: HtmlAttributes): void {
    const content = attributes.content;
    if (content === undefined) return;
    const name = attributes.name?.trim().toLowerCase();
    if (name === "description") {
      description ??= normalizeMetaText(content);
    } else if (name === "og:description" || attributes.property?.trim().toLowerCase() === "og:description") {
      ogDescription ??= normalizeMetaText(content);
    }
  }

  // The body is in memory already, so it is read in one write.
  reader.write(decodeHtml(body, charset));
  // end() closes every element still open, so an unclosed <title> ends here
  // with the rest of the document as its text, as in a browser.
  reader.end();

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

  /** Counts `source[start, end)`. */
  add(source: string, start: number, end: number): void {
    // Locals, not fields, in the loop: it runs for every character of the page's text.
    let length = this.length;
    let pendingSpace = this.pendingSpace;
    for (let index = start; index < end; index++) {
      const code = source.charCodeAt(index);
      if (code <= 0x20 && (code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d || code === 0x0c)) {
        pendingSpace = length > 0;
      } else if (code < 0xdc00 || code > 0xdfff) {
        // A low surrogate is the second half of a code point already counted.
        if (pendingSpace) {
          length++;
          pendingSpace = false;
        }
        length++;
      }
    }
    this.length = length;
    this.pendingSpace = pendingSpace;
  }
}

function resolveLinks(hrefs: readonly string[], documentBase: string, maxLinks: number): { links: string[]; linkCount: number } {
  const resolver = new LinkResolver(documentBase);
  const seen = new Set<string>();
  const links: string[] = [];
  for (const href of hrefs) {
    const key = resolver.key(href);
    if (key === undefined) continue;
    const distinctBefore = seen.size;
    seen.add(key);
    if (seen.size > distinctBefore && links.length < maxLinks) links.push(resolver.url(key));
  }
  return { links, linkCount: seen.size };
}

/**
 * Characters the URL parser copies unchanged into an http(s) path or query:
 * unreserved and sub-delimiters, `:`, `@`, `/` and `?`. Not `'` (encoded in a
 * special URL's query), not `%` (`%2e` is a dot segment), not `\` (read as `/`).
 * https://url.spec.whatwg.org/#path-percent-encode-set
 */
const SEGMENT_CHAR = String.raw`[A-Za-z0-9\-._~!$&()*+,;=:@]`;
const FIRST_SEGMENT_CHAR = String.raw`[A-Za-z0-9\-._~!$&()*+,;=@]`;
const QUERY_CHAR = String.raw`[A-Za-z0-9\-._~!$&()*+,;=:@/?]`;
/** At the start of a segment: the segment is not `.` or `..`, which the parser would remove. */
const NOT_DOT_SEGMENT = String.raw`(?!\.\.?(?:[/?#]|$))`;

/**
 * A plain reference up to its fragment: path-absolute (`/a/b?c`, not the
 * network path `//host`) or path-relative (`b/c.html`, without the `:` in its
 * first segment that would make it a scheme), of plain characters, with no
 * dot segment. Not a leading `?`. Sticky, so after a match `lastIndex` is
 * where the fragment starts (or the length). A native regular expression scans
 * the href faster than a character loop.
 */
const PLAIN_REFERENCE = new RegExp(
  String.raw`(?:(?=/(?!/))|(?![/?#]|$)${NOT_DOT_SEGMENT}${FIRST_SEGMENT_CHAR}*)(?:/${NOT_DOT_SEGMENT}${SEGMENT_CHAR}*)*(?:\?${QUERY_CHAR}*)?(?=#|$)`,
  "y",
);

/**
 * Resolves hrefs against one base URL, fragment removed. Most hrefs on a page
 * are plain paths (`/a/b?c=1`, `b.html`) that the URL parser would copy as
 * they are, so those are joined to the base directly; the rest, and every
 * href that only might be unusual, go through the URL parser, the costliest
 * step of link extraction. Tests compare both paths with the parser.
 *
 * A link is first resolved to a key, which is what duplicates are found by:
 * the path (from its `/`) for a URL on the base's origin, and the whole URL
 * otherwise (a path never equals a URL, which starts with its scheme). So a
 * `/a/b` href is its own key, and the full URL string is built only for the
 * links that are kept.
 */
class LinkResolver {
  /** `scheme://host[:port]`, when the base is http(s) without credentials (which a joined URL would lose). */
  private readonly origin: string | undefined;
  /** The base's path up to its last `/`, for relative paths. */
  private readonly directoryPath: string = "";

  constructor(private readonly base: string) {
    const parsed = URL.parse(base);
    if (parsed !== null && (parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.username === "" && parsed.password === "") {
      this.origin = parsed.origin;
      this.directoryPath = parsed.pathname.slice(0, parsed.pathname.lastIndexOf("/") + 1);
    }
  }

  /** The key of the absolute http(s) URL `href` names, without its fragment, or `undefined`. */
  key(href: string): string | undefined {
    const origin = this.origin;
    if (origin !== undefined) {
      PLAIN_REFERENCE.lastIndex = 0;
      if (PLAIN_REFERENCE.test(href)) {
        const plainEnd = PLAIN_REFERENCE.lastIndex;
        const path = plainEnd === href.length ? href : href.slice(0, plainEnd);
        return href.charCodeAt(0) === 0x2f /* / */ ? path : this.directoryPath + path;
      }
    }
    if (!mayBeHttpReference(href)) return undefined;
    const resolved = this.resolveByParser(href);
    if (origin === undefined || resolved === undefined || !resolved.startsWith(origin) || resolved.charCodeAt(origin.length) !== 0x2f /* / */) return resolved;
    return resolved.slice(origin.length);
  }

  /** The absolute URL a key stands for. */
  url(key: string): string {
    return key.charCodeAt(0) === 0x2f /* / */ ? this.origin + key : key;
  }

  private resolveByParser(href: string): string | undefined {
    const resolved = resolveHttpUrl(href, this.base);
    return resolved === undefined ? undefined : stripFragment(resolved);
  }
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
