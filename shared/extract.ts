/**
 * What the fleet keeps from each page. THIS IS WHERE YOUR OWN EXTRACTION GOES:
 * replace `extractPage` (or pass your own `Extractor` to `createWorker`) to
 * pull prices, headings, structured data or anything else out of the HTML.
 * Whatever it returns is stored as `content` in the result record.
 *
 * The default reads the page once with htmlparser2's streaming (SAX) parser,
 * without building a DOM, and keeps: the title, the meta description, the
 * canonical URL, the `<html lang>`, the outgoing http(s) links and the length
 * of the visible text. Keep an extractor fast: it runs on the worker's CPU for
 * every page, between two network waits.
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
      },
      onclosetag(name) {
        if (name === "title" && titleParts !== undefined) {
          titleText = normalizeMetaText(titleParts.join("")) ?? "";
          titleParts = undefined;
        }
        if (NON_VISIBLE_ELEMENTS.has(name)) nonVisibleDepth = Math.max(0, nonVisibleDepth - 1);
        else if (FOREIGN_ELEMENTS.has(name)) foreignDepth = Math.max(0, foreignDepth - 1);
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
  parser.end();

  // An unclosed <title> runs to the end of the document, as in a browser.
  if (titleParts !== undefined) titleText = normalizeMetaText(titleParts.join(""));

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
  const seen = new Set<string>();
  const links: string[] = [];
  for (const href of hrefs) {
    if (!mayBeHttpReference(href)) continue;
    const resolved = resolveHttpUrl(href, documentBase);
    if (resolved === undefined) continue;
    const withoutFragment = stripFragment(resolved);
    if (seen.has(withoutFragment)) continue;
    seen.add(withoutFragment);
    if (links.length < maxLinks) links.push(withoutFragment);
  }
  return { links, linkCount: seen.size };
}

/**
 * A cheap look at an href before the URL parser sees it. False for an empty or
 * fragment-only href (the page itself) and for an explicit scheme other than
 * http(s) (`javascript:`, `mailto:`, `tel:`, `data:` …). Anything unusual
 * (tabs or newlines inside the scheme, which the URL parser removes) is left
 * to the parser, which `resolveHttpUrl` checks again.
 */
function mayBeHttpReference(href: string): boolean {
  let start = 0;
  // The URL parser strips leading C0 controls and spaces.
  while (start < href.length && href.charCodeAt(start) <= 0x20) start++;
  if (start === href.length || href.charCodeAt(start) === 0x23 /* # */) return false;
  for (let index = start; index < href.length; index++) {
    const code = href.charCodeAt(index);
    if (code === 0x3a /* : */) {
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
