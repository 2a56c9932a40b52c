import { PdfString } from "./objects";

/** PDFDocEncoding bytes 0x80-0xA0, the only range where it differs from Latin-1 (0x9F is undefined). */
const PDF_DOC_HIGH =
  "\u2022\u2020\u2021\u2026\u2014\u2013\u0192\u2044\u2039\u203a\u2212\u2030\u201e\u201c\u201d\u2018\u2019\u201a\u2122\ufb01\ufb02\u0141\u0152\u0160\u0178\u017d\u0131\u0142\u0153\u0161\u017e\ufffd\u20ac";

function pdfDocByte(char: string): number | undefined {
  const code = char.codePointAt(0)!;
  if ((code >= 0x20 && code <= 0x7e) || code === 0x09 || code === 0x0a || code === 0x0d) return code;
  if (code >= 0xa1 && code <= 0xff && code !== 0xad) return code;
  const high = PDF_DOC_HIGH.indexOf(char);
  return high >= 0 && char !== "\ufffd" ? 0x80 + high : undefined;
}

/** A PDF text string: PDFDocEncoding when every character has a code there, else UTF-16BE with BOM. */
export function encodeTextString(text: string): PdfString {
  const bytes: number[] = [];
  for (const char of text) {
    const byte = pdfDocByte(char);
    if (byte === undefined) {
      const utf16 = Buffer.from(text, "utf16le").swap16();
      return new PdfString(Buffer.concat([Buffer.from([0xfe, 0xff]), utf16]), true);
    }
    bytes.push(byte);
  }
  return new PdfString(Uint8Array.from(bytes));
}

export function decodeTextString(value: PdfString): string {
  const bytes = Buffer.from(value.bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    const body = Buffer.from(bytes.subarray(2, 2 + ((bytes.length - 2) & ~1)));
    return body.swap16().toString("utf16le");
  }
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3).toString("utf8");
  let text = "";
  for (const byte of bytes) {
    text += byte >= 0x80 && byte <= 0xa0 ? PDF_DOC_HIGH[byte - 0x80] : String.fromCharCode(byte);
  }
  return text;
}

/** `D:YYYYMMDDHHmmSSZ` in UTC, as PAdES wants for /M. */
export function formatPdfDate(date: Date): string {
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  return (
    `D:${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`
  );
}

/** Parses a PDF date (`D:YYYYMMDDHHmmSSOHH'mm'`, every part after the year optional). */
export function parsePdfDate(text: string): Date | undefined {
  const match = /^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Zz+-])?(\d{2})?'?(\d{2})?'?/.exec(
    text.trim(),
  );
  if (!match) return undefined;
  const [
    ,
    year,
    month = "01",
    day = "01",
    hour = "00",
    minute = "00",
    second = "00",
    sign,
    offH = "00",
    offM = "00",
  ] = match;
  const utc = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
  );
  const offset = (Number(offH) * 60 + Number(offM)) * 60_000;
  const date = new Date(sign === "+" ? utc - offset : sign === "-" ? utc + offset : utc);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
