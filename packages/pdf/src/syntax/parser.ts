import { asBuffer } from "../io/io";
import { corrupt, limitExceeded } from "../reader/limits";
import { PdfDict, PdfName, type PdfObject, PdfRef, PdfString } from "./objects";

/**
 * Thrown when the parser runs off the end of its buffer while the source has more bytes:
 * the caller reads a bigger window and parses again.
 */
export class NeedMoreData extends Error {
  constructor() {
    // Thrown and caught inside `parseAt` whenever a first window is too small (every signature
    // dictionary, whose /Contents outgrows it): a stack trace nobody reads is its main cost.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super("object continues past the read window");
    Error.stackTraceLimit = stackTraceLimit;
  }
}

export function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09 || byte === 0x0c || byte === 0x00;
}

function isDelimiter(byte: number): boolean {
  return (
    byte === 0x28 || // (
    byte === 0x29 || // )
    byte === 0x3c || // <
    byte === 0x3e || // >
    byte === 0x5b || // [
    byte === 0x5d || // ]
    byte === 0x7b || // {
    byte === 0x7d || // }
    byte === 0x2f || // /
    byte === 0x25 // %
  );
}

function isRegular(byte: number): boolean {
  return !isWhitespace(byte) && !isDelimiter(byte);
}

/** Digits of an integer that summing digit by digit in a double still gets exactly (2^53 has 16). */
const MAX_EXACT_DIGITS = 15;

function isDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

/** What follows an indirect object's value: `endobj`, or `stream` and where its data starts. */
export interface IndirectObject {
  num: number;
  gen: number;
  value: PdfObject;
  /** Index in the buffer where stream data begins, when the object is a stream. */
  streamStart?: number;
}

/**
 * A synchronous PDF syntax parser over one buffer. `complete` says the buffer reaches the end
 * of the data (end of file, or a decoded object stream), so running off the end is corruption
 * rather than a reason to read more.
 */
export class Parser {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    private readonly maxDepth: number,
    readonly complete: boolean,
    start = 0,
  ) {
    this.pos = start;
  }

  private endOfData(): never {
    if (!this.complete) throw new NeedMoreData();
    throw corrupt("unexpected end of data while parsing an object");
  }

  private peek(): number {
    if (this.pos >= this.buf.length) this.endOfData();
    return this.buf[this.pos]!;
  }

  atEnd(): boolean {
    return this.pos >= this.buf.length;
  }

  skipWhitespace(): void {
    const buf = this.buf;
    while (this.pos < buf.length) {
      const byte = buf[this.pos]!;
      if (isWhitespace(byte)) {
        this.pos++;
      } else if (byte === 0x25) {
        while (this.pos < buf.length && buf[this.pos] !== 0x0a && buf[this.pos] !== 0x0d) this.pos++;
      } else {
        return;
      }
    }
  }

  /** Reads a run of regular characters (a keyword or number) without consuming what follows. */
  readToken(): string {
    this.skipWhitespace();
    const start = this.pos;
    while (this.pos < this.buf.length && isRegular(this.buf[this.pos]!)) this.pos++;
    if (this.pos >= this.buf.length && !this.complete) throw new NeedMoreData();
    return latin1(this.buf, start, this.pos);
  }

  expectKeyword(keyword: string): void {
    const token = this.readToken();
    if (token !== keyword) throw corrupt(`expected '${keyword}', found '${token.slice(0, 20)}'`);
  }

  /** Tries to read an unsigned integer; leaves the position unchanged when there is none. */
  tryUnsigned(): number | undefined {
    const saved = this.pos;
    this.skipWhitespace();
    const start = this.pos;
    // Accumulated in place: xref tables are thousands of these, and a string per number adds up.
    let value = 0;
    while (this.pos < this.buf.length && isDigit(this.buf[this.pos]!)) {
      value = value * 10 + (this.buf[this.pos]! - 0x30);
      this.pos++;
    }
    if (this.pos >= this.buf.length && !this.complete) throw new NeedMoreData();
    if (this.pos === start || (this.pos < this.buf.length && isRegular(this.buf[this.pos]!))) {
      this.pos = saved;
      return undefined;
    }
    return value;
  }

  /** Parses `N G obj <value> (endobj | stream)`. */
  parseIndirectObject(): IndirectObject {
    const num = this.tryUnsigned();
    const gen = this.tryUnsigned();
    if (num === undefined || gen === undefined) throw corrupt("expected an object header 'N G obj'");
    this.expectKeyword("obj");
    const value = this.parseObject();
    this.skipWhitespace();
    const keywordStart = this.pos;
    const keyword = this.atEnd() && this.complete ? "" : this.readToken();
    if (keyword === "stream") {
      // The keyword is followed by CRLF or LF (a lone CR is tolerated, as real producers emit it).
      if (this.peek() === 0x0d) this.pos++;
      if (this.pos < this.buf.length && this.buf[this.pos] === 0x0a) this.pos++;
      return { num, gen, value, streamStart: this.pos };
    }
    if (keyword !== "endobj") this.pos = keywordStart; // missing endobj is common and harmless
    return { num, gen, value };
  }

  parseObject(depth = 0): PdfObject {
    if (depth > this.maxDepth) throw limitExceeded(`objects nested deeper than ${this.maxDepth} levels`);
    this.skipWhitespace();
    const byte = this.peek();
    switch (byte) {
      case 0x2f:
        return this.parseName();
      case 0x28:
        return this.parseLiteralString();
      case 0x5b:
        return this.parseArray(depth);
      case 0x3c:
        if (this.pos + 1 >= this.buf.length) this.endOfData();
        if (this.buf[this.pos + 1] === 0x3c) return this.parseDict(depth);
        return this.parseHexString();
      default:
        return this.parseKeywordOrNumber();
    }
  }

  private parseKeywordOrNumber(): PdfObject {
    const start = this.pos;
    // Unsigned integers, most of the numbers in a file, read in place (no token string, no
    // regular expressions); up to 15 digits, which a double holds exactly however it is summed.
    const integer = this.tryUnsigned();
    if (integer !== undefined && this.pos - start <= MAX_EXACT_DIGITS)
      return this.integerOrReference(integer);
    this.pos = start;
    const token = this.readToken();
    if (token === "") throw corrupt(`unexpected byte 0x${this.buf[start]!.toString(16)} at ${start}`);
    if (token === "true") return true;
    if (token === "false") return false;
    if (token === "null") return null;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(token)) {
      // Some producers write `-.5` or `--1`; anything else is not a value.
      if (/^[+-]*\d*\.?\d*$/.test(token) && /\d/.test(token)) return Number(token.replace(/^[+-]+/, "-"));
      throw corrupt(`unexpected token '${token.slice(0, 20)}'`);
    }
    const value = Number(token);
    return /^\d+$/.test(token) ? this.integerOrReference(value) : value;
  }

  /** An unsigned integer just read, or the reference `N G R` it starts. */
  private integerOrReference(value: number): PdfObject {
    const afterFirst = this.pos;
    const gen = this.tryUnsigned();
    if (gen !== undefined) {
      this.skipWhitespace();
      if (this.peek() === 0x52 && (this.pos + 1 >= this.buf.length || !isRegular(this.buf[this.pos + 1]!))) {
        if (this.pos + 1 >= this.buf.length && !this.complete) throw new NeedMoreData();
        this.pos++;
        return new PdfRef(value, gen);
      }
    }
    this.pos = afterFirst;
    return value;
  }

  private parseName(): PdfName {
    this.pos++; // '/'
    const buf = this.buf;
    // Names without a # escape (nearly all) are their bytes as they stand.
    const start = this.pos;
    let end = start;
    while (end < buf.length && isRegular(buf[end]!) && buf[end] !== 0x23) end++;
    if (end < buf.length && buf[end] !== 0x23) {
      this.pos = end;
      return PdfName.of(latin1(buf, start, end));
    }
    const bytes: number[] = [];
    while (this.pos < buf.length && isRegular(buf[this.pos]!)) {
      const byte = buf[this.pos]!;
      if (byte === 0x23 && this.pos + 2 < buf.length) {
        const high = hexValue(buf[this.pos + 1]!);
        const low = hexValue(buf[this.pos + 2]!);
        if (high >= 0 && low >= 0) {
          bytes.push(high * 16 + low);
          this.pos += 3;
          continue;
        }
      }
      bytes.push(byte);
      this.pos++;
    }
    if (this.pos >= buf.length && !this.complete) throw new NeedMoreData();
    return PdfName.of(Buffer.from(bytes).toString("latin1"));
  }

  private parseLiteralString(): PdfString {
    this.pos++; // '('
    const out: number[] = [];
    let depth = 1;
    for (;;) {
      const byte = this.peek();
      this.pos++;
      if (byte === 0x5c) {
        const next = this.peek();
        this.pos++;
        switch (next) {
          case 0x6e:
            out.push(0x0a);
            break;
          case 0x72:
            out.push(0x0d);
            break;
          case 0x74:
            out.push(0x09);
            break;
          case 0x62:
            out.push(0x08);
            break;
          case 0x66:
            out.push(0x0c);
            break;
          case 0x0d:
            if (this.peek() === 0x0a) this.pos++;
            break;
          case 0x0a:
            break;
          default:
            if (next >= 0x30 && next <= 0x37) {
              let code = next - 0x30;
              for (let i = 0; i < 2; i++) {
                const digit = this.peek();
                if (digit < 0x30 || digit > 0x37) break;
                code = code * 8 + (digit - 0x30);
                this.pos++;
              }
              out.push(code & 0xff);
            } else {
              out.push(next);
            }
        }
      } else if (byte === 0x28) {
        depth++;
        out.push(byte);
      } else if (byte === 0x29) {
        depth--;
        if (depth === 0) return new PdfString(Uint8Array.from(out));
        out.push(byte);
      } else {
        out.push(byte);
      }
    }
  }

  private parseHexString(): PdfString {
    // Common case, and a large one (a signature's /Contents is tens of KB): only hex digits, an
    // even number of them, decoded natively. Anything else takes the byte-by-byte path below.
    const digitsStart = this.pos + 1;
    const close = asBuffer(this.buf).indexOf(0x3e, digitsStart);
    if (close >= 0) {
      const decoded = decodePlainHex(this.buf, digitsStart, close);
      if (decoded) {
        this.pos = close + 1;
        return new PdfString(decoded, true);
      }
    } else if (onlyHexDigits(this.buf, digitsStart, this.buf.length)) {
      // The string runs past the window: what the byte-by-byte path would find at its end.
      this.pos = this.buf.length;
      this.endOfData();
    }
    return this.parseHexStringByteByByte();
  }

  private parseHexStringByteByByte(): PdfString {
    this.pos++; // '<'
    const out: number[] = [];
    let high = -1;
    for (;;) {
      const byte = this.peek();
      this.pos++;
      if (byte === 0x3e) break;
      const value = hexValue(byte);
      if (value < 0) {
        if (isWhitespace(byte)) continue;
        throw corrupt("invalid character in a hex string");
      }
      if (high < 0) {
        high = value;
      } else {
        out.push(high * 16 + value);
        high = -1;
      }
    }
    if (high >= 0) out.push(high * 16);
    return new PdfString(Uint8Array.from(out), true);
  }

  private parseArray(depth: number): PdfObject[] {
    this.pos++; // '['
    const items: PdfObject[] = [];
    for (;;) {
      this.skipWhitespace();
      if (this.peek() === 0x5d) {
        this.pos++;
        return items;
      }
      items.push(this.parseObject(depth + 1));
    }
  }

  private parseDict(depth: number): PdfDict {
    this.pos += 2; // '<<'
    const dict = new PdfDict();
    for (;;) {
      this.skipWhitespace();
      const byte = this.peek();
      if (byte === 0x3e) {
        if (this.pos + 1 >= this.buf.length) this.endOfData();
        if (this.buf[this.pos + 1] !== 0x3e) throw corrupt("expected '>>'");
        this.pos += 2;
        return dict;
      }
      if (byte !== 0x2f) throw corrupt("dictionary key is not a name");
      const key = this.parseName().name;
      dict.set(key, this.parseObject(depth + 1));
    }
  }
}

/** `bytes[start, end)` decoded when it is an even number of hex digits and nothing else. */
function decodePlainHex(bytes: Uint8Array, start: number, end: number): Uint8Array | undefined {
  if ((end - start) % 2 !== 0) return undefined;
  // Buffer's hex decoding stops at the first pair that is not two hex digits: a full-length
  // result means every byte was a hex digit.
  const decoded = Buffer.from(latin1(bytes, start, end), "hex");
  if (decoded.length * 2 !== end - start) return undefined;
  return new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.length);
}

function onlyHexDigits(bytes: Uint8Array, start: number, end: number): boolean {
  const odd = (end - start) % 2 !== 0;
  if (odd && hexValue(bytes[end - 1]!) < 0) return false;
  return decodePlainHex(bytes, start, odd ? end - 1 : end) !== undefined;
}

/** Decodes bytes as Latin-1 through a view of the same memory (no copy). */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString("latin1");
}
