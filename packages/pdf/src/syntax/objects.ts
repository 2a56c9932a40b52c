/**
 * The PDF object model shared by the reader and the writer. Names are kept as their decoded
 * bytes in a latin1 string (so `#xx` escapes round-trip); numbers are plain JS numbers.
 */
export type PdfObject =
  | null
  | boolean
  | number
  | PdfName
  | PdfString
  | PdfRef
  | PdfObject[]
  | PdfDict
  | PdfStream
  | PdfRaw;

export class PdfName {
  private static readonly interned = new Map<string, PdfName>();
  private constructor(readonly name: string) {}
  /** Names are interned so `a === PdfName.of("Type")` comparisons work. */
  static of(name: string): PdfName {
    let found = PdfName.interned.get(name);
    if (!found) {
      found = new PdfName(name);
      if (PdfName.interned.size < 10_000) PdfName.interned.set(name, found);
    }
    return found;
  }
}

export class PdfString {
  constructor(
    readonly bytes: Uint8Array,
    /** Written as `<hex>` rather than `(literal)`. */
    readonly hex = false,
  ) {}
  /** Latin1 view of the bytes, fine for ASCII values such as field names and dates. */
  toLatin1(): string {
    return Buffer.from(this.bytes).toString("latin1");
  }
}

export class PdfRef {
  constructor(
    readonly num: number,
    readonly gen: number,
  ) {}
  get key(): string {
    return `${this.num} ${this.gen}`;
  }
}

export class PdfDict {
  constructor(readonly entries = new Map<string, PdfObject>()) {}
  get(key: string): PdfObject | undefined {
    return this.entries.get(key);
  }
  set(key: string, value: PdfObject): this {
    this.entries.set(key, value);
    return this;
  }
  has(key: string): boolean {
    return this.entries.has(key);
  }
  /** A shallow copy: the writer changes copies, never the reader's cached objects. */
  clone(): PdfDict {
    return new PdfDict(new Map(this.entries));
  }
  static of(entries: Record<string, PdfObject | undefined>): PdfDict {
    const dict = new PdfDict();
    for (const [key, value] of Object.entries(entries)) if (value !== undefined) dict.set(key, value);
    return dict;
  }
}

/**
 * A stream: its dictionary plus either the location of its raw (still encoded) bytes in the
 * source, or, for streams the writer creates, the bytes themselves.
 */
export class PdfStream {
  constructor(
    readonly dict: PdfDict,
    readonly location: { offset: number; length: number } | undefined,
    readonly data: Uint8Array | undefined = undefined,
  ) {}
}

/** Bytes the serializer copies verbatim (placeholders whose exact layout the signer patches). */
export class PdfRaw {
  constructor(readonly bytes: Uint8Array) {}
}

export const name = PdfName.of;

export function isName(value: PdfObject | undefined, expected?: string): value is PdfName {
  return value instanceof PdfName && (expected === undefined || value.name === expected);
}

export function asInteger(value: PdfObject | undefined): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) ? value : undefined;
}

export function asDict(value: PdfObject | undefined): PdfDict | undefined {
  if (value instanceof PdfDict) return value;
  if (value instanceof PdfStream) return value.dict;
  return undefined;
}

export function asArray(value: PdfObject | undefined): PdfObject[] | undefined {
  return Array.isArray(value) ? value : undefined;
}
