import { EsignError } from "@esign/errors";
import {
  asArray,
  asDict,
  asInteger,
  isName,
  PdfDict,
  type PdfObject,
  PdfRef,
  PdfStream,
  PdfString,
} from "../syntax/objects";
import { type CryptMethod, decryptBytes, encryptBytes, objectKey } from "./ciphers";
import { authenticate, type PasswordAccess, type StandardParameters } from "./standard-handler";

type Resolve = (value: PdfObject | undefined) => Promise<PdfObject>;

/**
 * A document's standard security handler, unlocked: decrypts what the reader loads and
 * encrypts what the writer appends, with the document's own file key and crypt filters, so
 * a signed revision is encrypted exactly like the rest of the file.
 */
export class DocumentEncryption {
  private constructor(
    /** /R of the standard security handler. */
    readonly revision: number,
    readonly access: PasswordAccess,
    /** /P: the permission bits a user-password reader is held to. */
    readonly permissions: number,
    /** The encryption dictionary's own object, which is never encrypted. */
    readonly dictionaryRef: PdfRef | undefined,
    private readonly fileKey: Uint8Array,
    private readonly methods: CryptMethods,
    private readonly encryptMetadata: boolean,
  ) {}

  /**
   * Reads the encryption dictionary and opens it with `password`, or with the empty user
   * password when none is given. Other handlers (e.g. /Adobe.PubSec) are refused as E_ENCRYPTED.
   */
  static async unlock(
    encryptValue: PdfObject,
    trailerId: PdfObject | undefined,
    resolve: Resolve,
    password: string | undefined,
  ): Promise<DocumentEncryption> {
    const dict = await resolveDict(resolve, encryptValue);
    if (!dict) throw invalid("the /Encrypt entry is not a dictionary");
    const filter = await resolve(dict.get("Filter"));
    if (!isName(filter, "Standard")) {
      const label = isName(filter) ? `/${filter.name}` : "an unnamed handler";
      throw new EsignError(
        "E_ENCRYPTED",
        `the document is encrypted with the ${label} security handler; only the standard (password) handler is supported`,
      );
    }
    const version = asInteger(await resolve(dict.get("V"))) ?? 0;
    const revision = asInteger(await resolve(dict.get("R"))) ?? 0;
    const supported =
      (version >= 1 && version <= 2 && revision >= 2 && revision <= 3) ||
      (version === 4 && revision === 4) ||
      (version === 5 && (revision === 5 || revision === 6));
    if (!supported) {
      throw new EsignError(
        "E_ENCRYPTED",
        `the document uses the standard security handler /V ${version} /R ${revision}, which is not supported (V1-V2 R2-R3, V4 R4, V5 R5-R6 are)`,
      );
    }
    const encryptMetadata = (await resolve(dict.get("EncryptMetadata"))) !== false;
    const methods = await cryptMethods(dict, version, resolve);
    const params: StandardParameters = {
      revision,
      keyLength: methods.keyLength,
      owner: await stringBytes(resolve, dict, "O"),
      user: await stringBytes(resolve, dict, "U"),
      ownerEncryptedKey: await stringBytes(resolve, dict, "OE"),
      userEncryptedKey: await stringBytes(resolve, dict, "UE"),
      permissions: (asInteger(await resolve(dict.get("P"))) ?? 0) | 0,
      encryptMetadata,
      firstId: await firstIdElement(resolve, trailerId),
    };
    const opened = authenticate(params, password ?? "");
    if (!opened) {
      throw new EsignError(
        "E_PASSWORD",
        password === undefined
          ? "the document is encrypted with a user password: give its user or owner password"
          : "the password is neither the document's user password nor its owner password",
      );
    }
    const dictionaryRef = encryptValue instanceof PdfRef ? encryptValue : undefined;
    return new DocumentEncryption(
      revision,
      opened.access,
      params.permissions,
      dictionaryRef,
      opened.fileKey,
      methods,
      encryptMetadata,
    );
  }

  /** Whether /P grants `bit` (1-based, as ISO 32000 numbers them). */
  allows(bit: number): boolean {
    return ((this.permissions >>> (bit - 1)) & 1) === 1;
  }

  /** The strings of a loaded object (a stream's dictionary included; its data see `decryptStreamData`). */
  decryptObject(value: PdfObject, ref: PdfRef): PdfObject {
    if (this.isUnencryptedObject(value, ref)) return value;
    const key = objectKey(this.fileKey, this.methods.strings, ref.num, ref.gen);
    return mapStrings(value, (bytes) => decryptBytes(this.methods.strings, key, bytes), false);
  }

  decryptStreamData(dict: PdfDict, ref: PdfRef, data: Uint8Array): Uint8Array {
    if (this.isUnencryptedObject(dict, ref)) return data;
    const method = this.streamMethod(dict);
    return decryptBytes(method, objectKey(this.fileKey, method, ref.num, ref.gen), data);
  }

  /** A copy of an object the writer appends, its strings (and stream data) encrypted for `ref`. */
  encryptObject(value: PdfObject, ref: PdfRef): PdfObject {
    const stringKey = objectKey(this.fileKey, this.methods.strings, ref.num, ref.gen);
    const encrypted = mapStrings(
      value,
      (bytes) => encryptBytes(this.methods.strings, stringKey, bytes),
      true,
    );
    if (!(encrypted instanceof PdfStream) || !encrypted.data) return encrypted;
    const method = this.streamMethod(encrypted.dict);
    const data = encryptBytes(method, objectKey(this.fileKey, method, ref.num, ref.gen), encrypted.data);
    return new PdfStream(encrypted.dict, undefined, data);
  }

  /** The encryption dictionary and cross-reference streams are stored in the clear. */
  private isUnencryptedObject(value: PdfObject, ref: PdfRef): boolean {
    return ref.num === this.dictionaryRef?.num || isName(asDict(value)?.get("Type"), "XRef");
  }

  private streamMethod(dict: PdfDict): CryptMethod {
    if (isName(dict.get("Type"), "Metadata") && !this.encryptMetadata) return "None";
    // A stream's own /Crypt filter (first in its chain) names the crypt filter that applies to it.
    const filters = dict.get("Filter");
    const first = Array.isArray(filters) ? filters[0] : filters;
    if (isName(first, "Crypt")) {
      const parms = dict.get("DecodeParms");
      const crypt = asDict(Array.isArray(parms) ? parms[0] : parms)?.get("Name");
      return this.methods.named(isName(crypt) ? crypt.name : "Identity");
    }
    return isName(dict.get("Type"), "EmbeddedFile") ? this.methods.embeddedFiles : this.methods.streams;
  }
}

interface CryptMethods {
  strings: CryptMethod;
  streams: CryptMethod;
  embeddedFiles: CryptMethod;
  /** A crypt filter by its /CF name (Identity is built in). */
  named(name: string): CryptMethod;
  /** File key length in bytes. */
  keyLength: number;
}

/**
 * V1–V2: RC4 for everything, key length from /Length (40 bits for V1). V4–V5: crypt filters
 * from /CF chosen by /StrF, /StmF and /EFF (default /Identity: not encrypted).
 */
async function cryptMethods(dict: PdfDict, version: number, resolve: Resolve): Promise<CryptMethods> {
  if (version < 4) {
    const bits = version === 1 ? 40 : (asInteger(await resolve(dict.get("Length"))) ?? 40);
    if (bits < 40 || bits > 128 || bits % 8 !== 0) throw invalid(`the key length ${bits} is not 40-128 bits`);
    return { strings: "V2", streams: "V2", embeddedFiles: "V2", named: () => "V2", keyLength: bits / 8 };
  }
  const filters = (await resolveDict(resolve, dict.get("CF"))) ?? new PdfDict();
  const methods = new Map<string, { method: CryptMethod; length: number | undefined }>();
  for (const [name, value] of filters.entries) {
    const filter = await resolveDict(resolve, value);
    const cfm = await resolve(filter?.get("CFM"));
    const method =
      isName(cfm) && ["None", "V2", "AESV2", "AESV3"].includes(cfm.name)
        ? (cfm.name as CryptMethod)
        : undefined;
    if (!method) throw new EsignError("E_ENCRYPTED", `the crypt filter /${name} uses an unsupported method`);
    methods.set(name, { method, length: asInteger(await resolve(filter?.get("Length"))) });
  }
  const named = (name: string): CryptMethod => {
    if (name === "Identity") return "None";
    const found = methods.get(name);
    if (!found) throw invalid(`the crypt filter /${name} is not defined in /CF`);
    return found.method;
  };
  const chosen = async (key: string, fallback: string) => {
    const value = await resolve(dict.get(key));
    return isName(value) ? value.name : fallback;
  };
  const streamFilter = await chosen("StmF", "Identity");
  const stringFilter = await chosen("StrF", "Identity");
  const streams = named(streamFilter);
  const strings = named(stringFilter);
  // /Length of a crypt filter is in bits by the standard and in bytes in most files; 128 is the default.
  const declared = methods.get(streamFilter)?.length ?? methods.get(stringFilter)?.length ?? 128;
  const lengthBits = declared < 40 ? declared * 8 : declared;
  const aes128 = strings === "AESV2" || streams === "AESV2";
  const keyLength = version === 5 ? 32 : aes128 ? 16 : Math.min(16, Math.max(5, Math.floor(lengthBits / 8)));
  return {
    strings,
    streams,
    embeddedFiles: named(await chosen("EFF", streamFilter)),
    named,
    keyLength,
  };
}

/**
 * Applies `convert` to every string of an object, except the /Contents of a signature
 * dictionary, which ISO 32000 leaves unencrypted (the signature covers the bytes as written).
 */
function mapStrings(value: PdfObject, convert: (bytes: Uint8Array) => Uint8Array, toHex: boolean): PdfObject {
  if (value instanceof PdfString) return new PdfString(convert(value.bytes), toHex || value.hex);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, convert, toHex));
  if (value instanceof PdfStream) {
    return new PdfStream(mapStrings(value.dict, convert, toHex) as PdfDict, value.location, value.data);
  }
  if (value instanceof PdfDict) {
    const signature = isSignatureDictionary(value);
    const out = new PdfDict();
    for (const [key, item] of value.entries) {
      out.set(key, signature && key === "Contents" ? item : mapStrings(item, convert, toHex));
    }
    return out;
  }
  return value;
}

/** /Type /Sig or /DocTimeStamp, or (the type is optional) a dictionary with a /ByteRange. */
function isSignatureDictionary(dict: PdfDict): boolean {
  const type = dict.get("Type");
  if (type !== undefined) return isName(type, "Sig") || isName(type, "DocTimeStamp");
  return dict.has("ByteRange");
}

async function resolveDict(resolve: Resolve, value: PdfObject | undefined): Promise<PdfDict | undefined> {
  return asDict(await resolve(value));
}

async function stringBytes(resolve: Resolve, dict: PdfDict, key: string): Promise<Uint8Array> {
  const value = await resolve(dict.get(key));
  return value instanceof PdfString ? value.bytes : new Uint8Array(0);
}

async function firstIdElement(resolve: Resolve, id: PdfObject | undefined): Promise<Uint8Array> {
  const first = await resolve(asArray(await resolve(id))?.[0]);
  return first instanceof PdfString ? first.bytes : new Uint8Array(0);
}

function invalid(message: string): EsignError {
  return new EsignError("E_PDF_CORRUPT", `invalid encryption dictionary: ${message}`);
}
