/**
 * Turns an HTML body into text, choosing the encoding the way a browser does,
 * simplified from the WHATWG encoding sniffing algorithm:
 * https://html.spec.whatwg.org/multipage/parsing.html#determining-the-character-encoding
 *
 * 1. a byte order mark;
 * 2. the `charset` parameter of Content-Type;
 * 3. a `<meta charset>` or `<meta http-equiv="Content-Type" content="…charset=…">`
 *    in the first 1024 bytes;
 * 4. UTF-8.
 *
 * Labels are resolved by `TextDecoder`, which implements the WHATWG Encoding
 * label table (https://encoding.spec.whatwg.org/#names-and-labels): so
 * `iso-8859-1`, `latin1` and `ascii` decode as windows-1252, as in browsers.
 * A label `TextDecoder` does not know (`utf-99`, `x-evil`, and the
 * "replacement" encodings such as `iso-2022-kr`, which Node does not
 * implement) is skipped and the next step decides. Invalid bytes become U+FFFD;
 * decoding never throws.
 */
import { TextDecoder } from "node:util";
import { HtmlTokenizer, type HtmlAttributes } from "./htmlTokenizer";

/** How many leading bytes the `<meta>` prescan reads (the WHATWG prescan limit). */
export const PRESCAN_BYTES = 1024;

const BOMS: readonly { readonly bytes: readonly number[]; readonly encoding: string }[] = [
  { bytes: [0xef, 0xbb, 0xbf], encoding: "utf-8" },
  { bytes: [0xfe, 0xff], encoding: "utf-16be" },
  { bytes: [0xff, 0xfe], encoding: "utf-16le" },
];

/** Decodes an HTML body with the encoding its BOM, header or `<meta>` names; UTF-8 otherwise. */
export function decodeHtml(body: Buffer, headerCharset?: string): string {
  const bom = BOMS.find(({ bytes }) => bytes.every((byte, index) => body[index] === byte));
  if (bom) return new TextDecoder(bom.encoding).decode(body.subarray(bom.bytes.length));

  const decoder = (headerCharset === undefined ? undefined : decoderFor(headerCharset)) ?? prescanMeta(body) ?? new TextDecoder("utf-8");
  return decoder.decode(body);
}

/** A decoder for a WHATWG encoding label, or `undefined` for a label no decoder exists for. */
function decoderFor(label: string): TextDecoder | undefined {
  try {
    return new TextDecoder(label.trim());
  } catch {
    return undefined;
  }
}

/**
 * The encoding named by the first `<meta>` in the first 1024 bytes that names
 * one we can decode. Bytes are read as Latin-1 so ASCII markup survives whatever
 * the real encoding is; the tokenizer handles quoting and comments.
 */
function prescanMeta(body: Buffer): TextDecoder | undefined {
  let found: TextDecoder | undefined;
  const reader = new HtmlTokenizer(
    {
      onopentag(name, attributes) {
        if (found !== undefined || name !== "meta") return;
        const label = attributes.charset ?? charsetFromContentType(attributes);
        if (label === undefined) return;
        found = metaDecoder(label);
      },
    },
    { attributesFor: META_ONLY },
  );
  reader.write(body.subarray(0, PRESCAN_BYTES).toString("latin1"));
  reader.end();
  return found;
}

const META_ONLY: ReadonlySet<string> = new Set(["meta"]);

function charsetFromContentType(attributes: HtmlAttributes): string | undefined {
  if (attributes["http-equiv"]?.trim().toLowerCase() !== "content-type" || attributes.content === undefined) return undefined;
  // https://html.spec.whatwg.org/multipage/urls-and-fetching.html#algorithm-for-extracting-a-character-encoding-from-a-meta-element
  const match = /charset\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s;"']+))/i.exec(attributes.content);
  return match ? (match[1] ?? match[2] ?? match[3]) : undefined;
}

/**
 * The prescan's two overrides: a page whose bytes we are reading as ASCII
 * cannot be UTF-16, so a `<meta>` saying so means UTF-8; `x-user-defined`
 * means windows-1252.
 */
function metaDecoder(label: string): TextDecoder | undefined {
  const decoder = decoderFor(label);
  if (decoder === undefined) {
    return label.trim().toLowerCase() === "x-user-defined" ? new TextDecoder("windows-1252") : undefined;
  }
  return decoder.encoding.startsWith("utf-16") ? new TextDecoder("utf-8") : decoder;
}
