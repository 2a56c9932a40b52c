import { EsignError } from "@esign/errors";
import { DocumentEncryption } from "../crypt/encryption";
import { asBuffer } from "../io/io";
import { type ByteSource, ConcatSource } from "../io/source";
import { asDict, asInteger, isName, PdfDict, type PdfObject, PdfRef, PdfStream } from "../syntax/objects";
import { isWhitespace } from "../syntax/parser";
import { corrupt, limitExceeded, PDF_LIMIT_KEYS, type PdfLimits, resolveLimits } from "./limits";
import { decodeObjectStream, type ObjectStream, objectStreamMember } from "./objstm";
import { recoverXref } from "./recovery";
import {
  ENTRY_COMPRESSED,
  ENTRY_IN_FILE,
  parseIndirectAt,
  readStreamData,
  readXref,
  type XrefInfo,
  type XrefKind,
  type XrefTable,
} from "./xref";

const OBJECT_CACHE_SIZE = 2048;
const OBJECT_STREAM_CACHE_SIZE = 8;
const MAX_REFERENCE_CHAIN = 32;
const NO_CHAIN: ReadonlySet<number> = new Set();

/** A page and the attributes it inherits from the page tree. */
export interface PageInfo {
  ref: PdfRef;
  dict: PdfDict;
  mediaBox: PdfObject | undefined;
  cropBox: PdfObject | undefined;
  rotate: number;
  resources: PdfObject | undefined;
}

export interface OpenOptions {
  /**
   * The user or owner password of an encrypted document. Without one, the empty user password
   * is tried. The owner password lifts the /P restrictions on what a signature may change.
   */
  password?: string;
  limits?: Partial<PdfLimits>;
  /**
   * A document opened earlier whose source this one extends (a `ConcatSource` over it, such as a
   * signed output over its input): its xref is taken over instead of parsing those revisions
   * again, and the result is what reading the whole source would give. Ignored where that cannot
   * be shown (another source, other limits, a recovered xref).
   */
  extends?: PdfDocument;
}

const INHERITABLE = ["MediaBox", "CropBox", "Rotate", "Resources"] as const;
type Inherited = Partial<Record<(typeof INHERITABLE)[number], PdfObject>>;

/**
 * A lazily read PDF: only the xref sections are read up front; objects are parsed when asked
 * for (with a small cache), so memory does not grow with the file size.
 */
export class PdfDocument {
  private readonly cache = new Map<number, PdfObject>();
  private readonly objectStreams = new Map<number, ObjectStream>();
  private readonly inflight = new Map<number, Promise<PdfObject>>();
  private recovery: Promise<void> | undefined;
  private countedPages: number | undefined;
  private security: DocumentEncryption | undefined;
  /** Where each stream this document loaded lives: the key that decrypts its data depends on it. */
  private readonly streamRefs = new WeakMap<PdfStream, PdfRef>();
  /** The xref as read from the file, for a document that extends this one; gone after recovery. */
  private xrefAsRead: XrefInfo | undefined;

  private constructor(
    readonly source: ByteSource,
    readonly limits: PdfLimits,
    private table: XrefTable,
    /** The newest trailer: /Root, /Info, /ID, /Size. */
    readonly trailer: PdfDict,
    /** Offset of the newest xref section (the next revision's /Prev); undefined after recovery. */
    readonly startxref: number | undefined,
    /** Kind of the newest xref section. */
    private readonly newestXrefKind: XrefKind,
    /** True when the xref was rebuilt by scanning: the next revision lists every object. */
    private isRecovered: boolean,
    /** Whether the last byte is an EOL; if not, a new revision starts with one. */
    readonly endsWithNewline: boolean,
  ) {}

  static async open(source: ByteSource, options: OpenOptions = {}): Promise<PdfDocument> {
    const resolved = resolveLimits(options.limits);
    const head = asBuffer(await source.read(0, 1024));
    if (source.size === 0 || head.indexOf("%PDF-") < 0) {
      throw new EsignError("E_NOT_PDF", "the input is not a PDF (no %PDF- header in the first 1024 bytes)");
    }
    const last = (await source.read(source.size - 1, 1))[0];
    const endsWithNewline = last === 0x0a || last === 0x0d;
    let document: PdfDocument;
    try {
      const xref = await readXref(
        source,
        resolved,
        await PdfDocument.olderXref(source, resolved, options.extends),
      );
      document = new PdfDocument(
        source,
        resolved,
        xref.table,
        xref.trailer,
        xref.startxref,
        xref.kind,
        false,
        endsWithNewline,
      );
      document.xrefAsRead = xref;
      await document.unlock(options.password);
      await document.catalog(); // a broken xref usually shows here; recover instead of failing later
    } catch (error) {
      if (!isRecoverable(error)) throw error;
      const recovered = await recoverXref(source, resolved);
      document = new PdfDocument(
        source,
        resolved,
        recovered.table,
        recovered.trailer,
        undefined,
        "table",
        true,
        endsWithNewline,
      );
      if (await document.unlock(options.password)) {
        // The first scan could not read encrypted object streams; now that the key is known, rescan.
        await document.switchToRecoveredXref();
      }
    }
    // New object numbers start here: an absurd /Size would push them past every reader's limits.
    if (document.nextObjectNumber > resolved.maxObjects) {
      throw limitExceeded(`trailer /Size ${document.nextObjectNumber} exceeds ${resolved.maxObjects}`);
    }
    return document;
  }

  /**
   * The xref of `base` when `source` provably starts with base's bytes and reading on from them
   * gives what base's reader found: `source` is a chain of `ConcatSource`s over base's very source,
   * the limits are the same, base's xref was read (not recovered), and base's last byte is followed
   * by whitespace (its own EOL, or the EOL a new revision starts with), so no token read at its end
   * runs on into the bytes after it.
   */
  private static async olderXref(
    source: ByteSource,
    limits: PdfLimits,
    base: PdfDocument | undefined,
  ): Promise<XrefInfo | undefined> {
    const older = base?.xrefAsRead;
    if (!base || !older || !startsWithSource(source, base.source)) return undefined;
    if (!PDF_LIMIT_KEYS.every((key) => limits[key] === base.limits[key])) return undefined;
    if (!base.endsWithNewline && source.size > base.source.size) {
      if (!isWhitespace((await source.read(base.source.size, 1))[0]!)) return undefined;
    }
    return older;
  }

  /**
   * Opens the standard security handler when the trailer has /Encrypt (the encryption
   * dictionary is read before any decryption is in place: it is stored in the clear).
   * Returns whether the document is encrypted.
   */
  private async unlock(password: string | undefined): Promise<boolean> {
    const encrypt = this.trailer.get("Encrypt");
    if (encrypt === undefined || encrypt === null) return false;
    this.security = await DocumentEncryption.unlock(
      encrypt,
      this.trailer.get("ID"),
      (value) => this.resolve(value),
      password,
    );
    return true;
  }

  /** The unlocked security handler of an encrypted document; the writer encrypts with it. */
  get encryption(): DocumentEncryption | undefined {
    return this.security;
  }

  get recovered(): boolean {
    return this.isRecovered;
  }

  /**
   * The kind of xref section a new revision writes: the same as the newest one, except that a
   * recovered file whose objects live in object streams needs a stream (a table cannot list them).
   */
  get xrefKind(): XrefKind {
    return this.isRecovered && hasCompressedObjects(this.table) ? "stream" : this.newestXrefKind;
  }

  /** Every object number below this is taken; new objects start here. */
  get nextObjectNumber(): number {
    return Math.max(asInteger(this.trailer.get("Size")) ?? 0, this.table.size, 1);
  }

  /** Live object numbers (for writers that must list every object after recovery). */
  liveObjectEntries(): Array<{ num: number; entry: ReturnType<XrefTable["get"]> }> {
    return [...this.table.liveObjects()].map((num) => ({ num, entry: this.table.get(num) }));
  }

  /**
   * Objects a later revision marked free (a classic `f` entry, or type 0 in an xref stream). The
   * reader still resolves them to their older definition, as it always did; change analysis needs
   * to know that a viewer following the spec reads them as null.
   */
  freedObjectNumbers(): number[] {
    return [...this.table.freedObjects()];
  }

  /** Follows references until a direct object. A missing object is `null`, as the spec says. */
  resolve(value: PdfObject | undefined): Promise<PdfObject> {
    return this.resolveWithin(value, NO_CHAIN);
  }

  /** `chain`: the objects whose loading led here, to catch a reference back into them. */
  private async resolveWithin(value: PdfObject | undefined, chain: ReadonlySet<number>): Promise<PdfObject> {
    let current: PdfObject | undefined = value;
    for (let hops = 0; current instanceof PdfRef; hops++) {
      if (hops >= MAX_REFERENCE_CHAIN) throw corrupt("reference chain too long (a reference cycle?)");
      current = await this.objectWithin(current.num, chain);
    }
    return current ?? null;
  }

  async resolveDict(value: PdfObject | undefined): Promise<PdfDict | undefined> {
    return asDict(await this.resolve(value));
  }

  async resolveArray(value: PdfObject | undefined): Promise<PdfObject[] | undefined> {
    const resolved = await this.resolve(value);
    return Array.isArray(resolved) ? resolved : undefined;
  }

  getObject(num: number): Promise<PdfObject> {
    return this.objectWithin(num, NO_CHAIN);
  }

  /**
   * Top-level reads of the same object share one load, so concurrent callers are safe. Nested
   * reads (a stream's /Length, an object's object stream) carry the chain that led to them and
   * never wait on a shared load: a reference cycle fails as E_PDF_CORRUPT instead of hanging.
   */
  private async objectWithin(num: number, chain: ReadonlySet<number>): Promise<PdfObject> {
    const cached = this.cache.get(num);
    if (cached !== undefined) return cached;
    if (chain.has(num)) throw corrupt(`object ${num} refers to itself while being read`);
    const innerChain = new Set(chain).add(num);
    let pending = chain.size === 0 ? this.inflight.get(num) : undefined;
    if (!pending) {
      pending = this.loadWithRecovery(num, innerChain);
      if (chain.size === 0) {
        pending = pending.finally(() => this.inflight.delete(num));
        this.inflight.set(num, pending);
      }
    }
    const value = await pending;
    if (this.cache.size >= OBJECT_CACHE_SIZE) this.cache.clear();
    this.cache.set(num, value);
    return value;
  }

  /** Data of a stream object, decrypted but not decoded (used for DSS and tests). */
  async streamBytes(stream: PdfStream): Promise<Uint8Array> {
    const length = await this.resolve(stream.dict.get("Length"));
    const withLength =
      stream.location && typeof length === "number"
        ? new PdfStream(stream.dict, { offset: stream.location.offset, length })
        : stream;
    return this.decryptStream(stream, await readStreamData(this.source, withLength, this.limits));
  }

  private decryptStream(stream: PdfStream, data: Uint8Array): Uint8Array {
    const ref = this.streamRefs.get(stream);
    return this.security && ref ? this.security.decryptStreamData(stream.dict, ref, data) : data;
  }

  private async loadWithRecovery(num: number, chain: ReadonlySet<number>): Promise<PdfObject> {
    try {
      return await this.load(num, chain);
    } catch (error) {
      if (this.isRecovered || !isRecoverable(error)) throw error;
      this.recovery ??= this.switchToRecoveredXref();
      await this.recovery;
      return this.load(num, chain);
    }
  }

  private async switchToRecoveredXref(): Promise<void> {
    const security = this.security;
    const decrypt =
      security &&
      ((ref: PdfRef, stream: PdfStream, data: Uint8Array) =>
        security.decryptStreamData(stream.dict, ref, data));
    const recovered = await recoverXref(this.source, this.limits, decrypt);
    this.table = recovered.table;
    this.isRecovered = true;
    this.xrefAsRead = undefined;
    this.cache.clear();
    this.objectStreams.clear();
  }

  private async load(num: number, chain: ReadonlySet<number>): Promise<PdfObject> {
    const entry = this.table.get(num);
    if (entry?.kind === ENTRY_IN_FILE) return this.loadInFile(num, entry.offset, chain);
    if (entry?.kind === ENTRY_COMPRESSED)
      return this.loadCompressed(num, entry.streamNum, entry.index, chain);
    return null;
  }

  private async loadInFile(num: number, offset: number, chain: ReadonlySet<number>): Promise<PdfObject> {
    const parsed = await parseIndirectAt(this.source, offset, this.limits);
    if (parsed.num !== num)
      throw corrupt(`xref points object ${num} at offset ${offset}, found ${parsed.num}`);
    const ref = new PdfRef(num, parsed.gen);
    const value = this.security ? this.security.decryptObject(parsed.value, ref) : parsed.value;
    if (parsed.streamStart === undefined) return value;
    if (!(value instanceof PdfDict)) throw corrupt(`object ${num} has a stream without a dictionary`);
    const length = asInteger(await this.resolveWithin(value.get("Length"), chain));
    const stream = new PdfStream(value, { offset: parsed.streamStart, length: length ?? -1 });
    this.streamRefs.set(stream, ref);
    return stream;
  }

  private async loadCompressed(
    num: number,
    streamNum: number,
    index: number,
    chain: ReadonlySet<number>,
  ): Promise<PdfObject> {
    let objectStream = this.objectStreams.get(streamNum);
    if (!objectStream) {
      if (this.table.get(streamNum)?.kind !== ENTRY_IN_FILE) {
        throw corrupt(`object stream ${streamNum} of object ${num} is not a plain object`);
      }
      const stream = await this.objectWithin(streamNum, chain);
      if (!(stream instanceof PdfStream)) throw corrupt(`object ${streamNum} is not an object stream`);
      objectStream = await decodeObjectStream(this.source, stream, this.limits, (data) =>
        this.decryptStream(stream, data),
      );
      if (this.objectStreams.size >= OBJECT_STREAM_CACHE_SIZE) this.objectStreams.clear();
      this.objectStreams.set(streamNum, objectStream);
    }
    // The xref index is a hint; producers occasionally get it wrong, the member list is authoritative.
    const memberIndex =
      objectStream.members[index]?.[0] === num
        ? index
        : objectStream.members.findIndex(([memberNum]) => memberNum === num);
    if (memberIndex < 0) throw corrupt(`object ${num} is not in object stream ${streamNum}`);
    return objectStreamMember(objectStream, memberIndex, this.limits);
  }

  async catalog(): Promise<PdfDict> {
    const root = this.trailer.get("Root");
    const catalog = await this.resolveDict(root);
    // A /Root that leads to a dictionary without /Pages is a damaged reference (recovery fixes it).
    if (!(root instanceof PdfRef) || !catalog?.has("Pages"))
      throw corrupt("the trailer has no document catalog");
    return catalog;
  }

  get catalogRef(): PdfRef {
    return this.trailer.get("Root") as PdfRef;
  }

  /**
   * Visits every page in order with its inherited attributes. `visit` returns true to stop.
   * Cycles, depth and node count are bounded; nothing is retained, so page count of a huge
   * document costs no memory.
   */
  private async walkPages(visit: (page: PageInfo, index: number) => boolean): Promise<void> {
    const rootRef = (await this.catalog()).get("Pages");
    const visited = new Set<number>();
    let index = 0;
    const walk = async (ref: PdfObject, inherited: Inherited, depth: number): Promise<boolean> => {
      if (!(ref instanceof PdfRef)) throw corrupt("page tree node is not an indirect object");
      if (depth > this.limits.maxTreeDepth) throw limitExceeded("page tree too deep");
      if (visited.has(ref.num)) throw corrupt("page tree contains a cycle");
      visited.add(ref.num);
      if (visited.size > this.limits.maxTreeNodes) throw limitExceeded("page tree has too many nodes");
      const node = await this.resolveDict(ref);
      if (!node) throw corrupt(`page tree node ${ref.num} is not a dictionary`);
      const own: Inherited = { ...inherited };
      for (const key of INHERITABLE) if (node.has(key)) own[key] = node.get(key);
      const kids = isPageNode(node) ? undefined : await this.resolveArray(node.get("Kids"));
      if (kids === undefined) return visit(await this.pageInfo(ref, node, own), index++);
      for (const kid of kids) if (await walk(kid, own, depth + 1)) return true;
      return false;
    };
    await walk(rootRef ?? null, {}, 0);
  }

  private async pageInfo(ref: PdfRef, dict: PdfDict, inherited: Inherited): Promise<PageInfo> {
    return {
      ref,
      dict,
      mediaBox: await this.resolve(inherited.MediaBox),
      cropBox: inherited.CropBox === undefined ? undefined : await this.resolve(inherited.CropBox),
      rotate: asInteger(await this.resolve(inherited.Rotate)) ?? 0,
      resources: inherited.Resources,
    };
  }

  /** All pages in order. Holds every page dictionary: prefer `page(n)` and `pageCount()`. */
  async pages(): Promise<PageInfo[]> {
    const pages: PageInfo[] = [];
    await this.walkPages((page) => {
      pages.push(page);
      return false;
    });
    return pages;
  }

  /**
   * The page with 1-based `number`, or undefined when there is no such page. Descends by the
   * page-tree /Count values (a few objects per level); if they are missing or inconsistent,
   * walks the tree in order instead.
   */
  async page(number: number): Promise<PageInfo | undefined> {
    if (!Number.isInteger(number) || number < 1) return undefined;
    const byCounts = await this.pageByCounts(number - 1);
    if (byCounts) return byCounts;
    let found: PageInfo | undefined;
    await this.walkPages((page, index) => {
      if (index + 1 === number) found = page;
      return found !== undefined;
    });
    return found;
  }

  private async pageByCounts(index: number): Promise<PageInfo | undefined> {
    let ref = (await this.catalog()).get("Pages");
    let inherited: Inherited = {};
    let remaining = index;
    for (let depth = 0; depth <= this.limits.maxTreeDepth; depth++) {
      if (!(ref instanceof PdfRef)) return undefined;
      const node = await this.resolveDict(ref);
      if (!node) return undefined;
      inherited = { ...inherited };
      for (const key of INHERITABLE) if (node.has(key)) inherited[key] = node.get(key);
      if (isPageNode(node)) return remaining === 0 ? this.pageInfo(ref, node, inherited) : undefined;
      let next: PdfObject | undefined;
      for (const kid of (await this.resolveArray(node.get("Kids"))) ?? []) {
        const kidNode = await this.resolveDict(kid);
        const size = kidNode && isPageNode(kidNode) ? 1 : asInteger(kidNode?.get("Count"));
        if (size === undefined || size < 0) return undefined;
        if (remaining < size) {
          next = kid;
          break;
        }
        remaining -= size;
      }
      if (next === undefined) return undefined;
      ref = next;
    }
    return undefined;
  }

  async pageCount(): Promise<number> {
    if (this.countedPages === undefined) {
      let count = 0;
      await this.walkPages(() => {
        count++;
        return false;
      });
      this.countedPages = count;
    }
    return this.countedPages;
  }

  /** The interactive form, and its reference when it is an indirect object. */
  async acroForm(): Promise<{ dict: PdfDict; ref: PdfRef | undefined } | undefined> {
    const value = (await this.catalog()).get("AcroForm");
    const dict = await this.resolveDict(value);
    if (!dict) return undefined;
    return { dict, ref: value instanceof PdfRef ? value : undefined };
  }
}

function startsWithSource(source: ByteSource, prefix: ByteSource): boolean {
  for (let current: ByteSource | undefined = source; current; ) {
    if (current === prefix) return true;
    current = current instanceof ConcatSource ? current.base : undefined;
  }
  return false;
}

/** A leaf of the page tree: typed /Page, or (in sloppy files) a node without /Kids. */
function isPageNode(node: PdfDict): boolean {
  return isName(node.get("Type"), "Page") || (!node.has("Kids") && !isName(node.get("Type"), "Pages"));
}

function isRecoverable(error: unknown): boolean {
  if (error instanceof EsignError) return error.code === "E_PDF_CORRUPT";
  return false;
}

function hasCompressedObjects(table: XrefTable): boolean {
  for (const num of table.liveObjects()) if (table.get(num)?.kind === ENTRY_COMPRESSED) return true;
  return false;
}

export function openPdf(source: ByteSource, options?: OpenOptions): Promise<PdfDocument> {
  return PdfDocument.open(source, options);
}
