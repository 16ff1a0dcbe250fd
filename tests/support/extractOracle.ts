/**
 * What the two reference extractors the differential tests compare against
 * share: the extractor's documented rules written plainly, once. One reads
 * htmlparser2's events (tests/shared/extract.test.ts), the other parse5's
 * tree (tests/shared/extractAgainstParse5.test.ts); each collects what it
 * found and `pageContent` turns that into the record's content.
 */
import { MAX_META_TEXT } from "../../shared/extract";
import type { PageContent } from "../../shared/result";

/** Elements whose text is not visible page text. */
export const NON_VISIBLE = new Set(["script", "style", "noscript", "template", "title", "iframe", "noembed", "noframes"]);
/** Elements that separate words: text on either side is not run together. */
export const BLOCK = new Set([
  "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
  "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
]);

/** A title or meta text: whitespace collapsed, at most MAX_META_TEXT characters, never a split surrogate pair. */
export function normalizeMeta(raw: string): string | undefined {
  const collapsed = raw.slice(0, 16 * MAX_META_TEXT).replace(/[\t\n\f\r ]+/g, " ").trim();
  if (collapsed.length <= MAX_META_TEXT) return collapsed === "" ? undefined : collapsed;
  const code = collapsed.charCodeAt(MAX_META_TEXT - 1);
  return collapsed.slice(0, code >= 0xd800 && code <= 0xdbff ? MAX_META_TEXT - 1 : MAX_META_TEXT).trimEnd();
}

/** `href` resolved against `base` when it is an http(s) URL. */
export function httpUrl(href: string, base: string): URL | undefined {
  const url = URL.parse(href, base);
  return url !== null && (url.protocol === "http:" || url.protocol === "https:") ? url : undefined;
}

/** What a reference extractor found in a document, before links are resolved. */
export interface FoundInPage {
  readonly title: string | undefined;
  readonly description: string | undefined;
  readonly ogDescription: string | undefined;
  readonly canonicalHref: string | undefined;
  readonly baseHref: string | undefined;
  readonly lang: string | undefined;
  readonly hrefs: readonly string[];
  readonly textLength: number;
}

/** The page's content: links resolved against the document's base (a `data:` or `javascript:` base is ignored), fragments dropped, each once. */
export function pageContent(found: FoundInPage, pageUrl: string, maxLinks: number): PageContent {
  const parsedBase = found.baseHref === undefined ? null : URL.parse(found.baseHref.trim(), pageUrl);
  const documentBase = parsedBase === null || parsedBase.protocol === "data:" || parsedBase.protocol === "javascript:" ? pageUrl : parsedBase.href;
  const links = new Set<string>();
  for (const href of found.hrefs) {
    const trimmed = href.replace(/^[\u0000-\u0020]+/, "");
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const url = httpUrl(href, documentBase);
    if (url === undefined) continue;
    url.hash = "";
    links.add(url.href.endsWith("#") ? url.href.slice(0, -1) : url.href);
  }
  return {
    title: found.title || undefined,
    description: found.description ?? found.ogDescription,
    canonical: found.canonicalHref === undefined ? undefined : httpUrl(found.canonicalHref, documentBase)?.href,
    lang: found.lang,
    links: [...links].slice(0, maxLinks),
    linkCount: links.size,
    textLength: found.textLength,
  };
}
