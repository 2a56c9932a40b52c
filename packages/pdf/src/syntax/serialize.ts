import { EsignError } from "@esign/errors";
import { asBuffer } from "../io/io";
import { PdfDict, PdfName, type PdfObject, PdfRaw, PdfRef, PdfStream, PdfString } from "./objects";

/**
 * Serializes PDF objects to bytes. Output is built as a latin1 string (one char per byte),
 * which represents binary string and stream bytes exactly.
 */
export function serializeObject(value: PdfObject): Buffer {
  return Buffer.from(toSyntax(value), "latin1");
}

export function toSyntax(value: PdfObject): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return formatNumber(value);
  if (value instanceof PdfName) return formatName(value.name);
  if (value instanceof PdfString)
    return value.hex ? formatHexString(value.bytes) : formatLiteralString(value.bytes);
  if (value instanceof PdfRef) return `${value.num} ${value.gen} R`;
  if (value instanceof PdfRaw) return asBuffer(value.bytes).toString("latin1");
  if (Array.isArray(value)) return `[${value.map(toSyntax).join(" ")}]`;
  if (value instanceof PdfDict) return formatDict(value);
  if (value instanceof PdfStream) {
    if (!value.data) throw new EsignError("E_INTERNAL", "cannot rewrite a stream read from the source");
    const dict = value.dict.clone().set("Length", value.data.length);
    return `${formatDict(dict)}\nstream\n${asBuffer(value.data).toString("latin1")}\nendstream`;
  }
  throw new EsignError("E_INTERNAL", "unknown PDF object type");
}

function formatDict(dict: PdfDict): string {
  const parts: string[] = [];
  for (const [key, item] of dict.entries) {
    if (item === undefined) continue;
    parts.push(`${formatName(key)} ${toSyntax(item)}`);
  }
  return `<<${parts.join(" ")}>>`;
}

/** Decimal notation only: PDF has no exponent syntax. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "0";
  // toFixed switches to exponent notation from 1e21 on; BigInt never does.
  if (Number.isInteger(value)) return BigInt(value).toString();
  const fixed = value.toFixed(10).replace(/0+$/, "").replace(/\.$/, "");
  return fixed === "-0" ? "0" : fixed;
}

/** Bytes outside `!`..`~`, delimiters and `#` are written as `#xx`. */
export function formatName(name: string): string {
  let out = "/";
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    const regular = code > 0x20 && code < 0x7f && !"()<>[]{}/%#".includes(name[i]!);
    out += regular ? name[i] : `#${code.toString(16).padStart(2, "0").toUpperCase()}`;
  }
  return out;
}

function formatHexString(bytes: Uint8Array): string {
  return `<${asBuffer(bytes).toString("hex")}>`;
}

function formatLiteralString(bytes: Uint8Array): string {
  let out = "(";
  for (const byte of bytes) {
    if (byte === 0x28 || byte === 0x29 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte === 0x0a) out += "\\n";
    else if (byte === 0x0d) out += "\\r";
    else if (byte < 0x20 || byte > 0x7e) out += `\\${byte.toString(8).padStart(3, "0")}`;
    else out += String.fromCharCode(byte);
  }
  return `${out})`;
}
