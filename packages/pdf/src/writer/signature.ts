import type { Writable } from "node:stream";
import { EsignError } from "@esign/errors";
import { hashByteRange } from "../io/digest";
import { asBuffer } from "../io/io";
import { type ByteSource, ConcatSource, writeWithRevision } from "../io/source";
import type { PdfDocument } from "../reader/document";
import {
  certificationPermission,
  type DocMdpPermission,
  formFields,
  signatureFields,
  widgetOf,
} from "../reader/fields";
import { name, PdfDict, type PdfObject, PdfRaw, type PdfRef } from "../syntax/objects";
import { encodeTextString, formatPdfDate } from "../syntax/text";
import { IncrementalUpdate } from "./incremental";
import { requirePermission } from "./permissions";

export interface SignatureOptions {
  /** Field to create, or an existing empty signature field to fill. Default: SignatureN. */
  fieldName?: string;
  /** 1-based page that carries the (invisible) widget. Default 1. */
  page?: number;
  /** Claimed signing time, written as /M. */
  signingTime?: Date;
  reason?: string;
  location?: string;
  contactInfo?: string;
  name?: string;
  /** Bytes reserved for the DER CMS (the hex placeholder is twice this). */
  contentsSize: number;
  /** Certify the document (DocMDP) with this permission; only as its first signature. */
  certify?: DocMdpPermission;
  /** "timestamp" makes a /DocTimeStamp (ETSI.RFC3161) instead of a /Sig. */
  kind?: "signature" | "timestamp";
  /** Makes the signature visible; without it the widget is invisible (`/Rect [0 0 0 0]`). */
  widget?: SignatureWidget;
}

/** A visible widget: where it sits and what it shows (the appearance is built by @esign/appearance). */
export interface SignatureWidget {
  /** 1-based page of a new field's widget (overrides `page`); an existing field keeps its page. */
  page: number;
  /** /Rect in the page's user space. */
  rect: [number, number, number, number];
  /** The page's /Rotate, which the appearance compensates; recorded as /MK /R for form editors. */
  rotation: 0 | 90 | 180 | 270;
  /** Adds the normal appearance (a form XObject and what it uses) to the revision. */
  appearance(update: IncrementalUpdate): PdfRef;
}

export interface PreparedSignature {
  /** [0, a, b, c]: a = offset of `<` of /Contents, b = just after `>`, c = bytes after b. */
  byteRange: [number, number, number, number];
  /** The bytes to append to the original, with the /Contents placeholder still zero. */
  revision: Uint8Array;
  fieldName: string;
  /** Bytes of DER the placeholder can hold. */
  contentsCapacity: number;
  /** Length of the signed output: original size + revision length. */
  signedLength: number;
  /** Hash of the covered bytes, streamed over the original and the revision. */
  digest(algorithm?: string): Promise<Buffer>;
  /** A copy of the revision with `cms` written (hex, zero padded) into the placeholder. */
  embed(cms: Uint8Array): Uint8Array;
  /** The signed document as a source (original followed by `revision`), without copying. */
  output(revision: Uint8Array): ByteSource;
  /** Streams original + `revision` to a file path or a Writable. */
  writeTo(revision: Uint8Array, destination: Writable | string): Promise<void>;
}

/** A CMS with a long chain, time-stamp and revocation data is ~50 KB; 1 MiB is generous. */
const MAX_CONTENTS_SIZE = 1024 * 1024;

/** Fixed width for the ByteRange numbers, patched in place once offsets are known. */
const BYTE_RANGE_DIGITS = 10;
const BYTE_RANGE_PLACEHOLDER = `[0 ${Array(3).fill("0".repeat(BYTE_RANGE_DIGITS)).join(" ")}]`;

/**
 * Builds the incremental revision for one signature: signature dictionary with a fixed-size
 * /Contents placeholder, field/widget, page /Annots, AcroForm, and (when certifying) /Perms.
 */
export async function prepareSignature(
  doc: PdfDocument,
  options: SignatureOptions,
): Promise<PreparedSignature> {
  const kind = options.kind ?? "signature";
  const contentsSize = options.contentsSize;
  if (!Number.isSafeInteger(contentsSize) || contentsSize <= 0 || contentsSize > MAX_CONTENTS_SIZE) {
    throw new EsignError("E_CONFIG", `contentsSize must be an integer between 1 and ${MAX_CONTENTS_SIZE}`);
  }
  if (options.certify !== undefined && kind === "timestamp") {
    throw new EsignError("E_CONFIG", "a document time-stamp cannot certify a document");
  }
  const existingSignatures = (await signatureFields(doc)).filter((field) => field.signed);
  if ((await certificationPermission(doc)) === 1) {
    throw new EsignError("E_DOCMDP_LOCKED", "the document is certified with no changes allowed (DocMDP P=1)");
  }
  if (options.certify !== undefined && existingSignatures.length > 0) {
    throw new EsignError("E_FIELD", "certification must be the document's first signature");
  }
  // Certifying adds /Perms to the catalog: as much a change to the document as a new field.
  if (options.certify !== undefined) requirePermission(doc, "new-signature-field");

  const update = new IncrementalUpdate(doc);
  const sigRef = update.allocate();
  update.set(sigRef, signatureDictionary(kind, contentsSize, options));
  const fieldName = await placeField(doc, update, sigRef, options);

  const catalogRef = doc.catalogRef;
  if (options.certify !== undefined) {
    const catalog = await update.editDict(catalogRef);
    const perms = (await doc.resolveDict(catalog.get("Perms")))?.clone() ?? new PdfDict();
    catalog.set("Perms", perms.set("DocMDP", sigRef));
  }

  const built = update.build();
  const revision = built.bytes;
  const base = doc.source.size;
  const { byteRange, contentsAt } = patchByteRange(
    revision,
    base,
    built.offsets.get(sigRef.num)! - base,
    contentsSize,
  );
  const signedLength = base + revision.length;

  const prepared: PreparedSignature = {
    byteRange,
    revision,
    fieldName,
    contentsCapacity: contentsSize,
    signedLength,
    digest: (algorithm = "sha256") => hashByteRange(prepared.output(revision), byteRange, algorithm),
    embed: (cms) => embedSignatureContents(revision, contentsAt, contentsSize, cms),
    output: (signedRevision) => new ConcatSource(doc.source, signedRevision),
    writeTo: (signedRevision, destination) => writeWithRevision(doc.source, signedRevision, destination),
  };
  return prepared;
}

/**
 * A copy of `revision` with `cms` written (hex, zero padded) into the /Contents placeholder whose
 * `<` is at `placeholderAt`. Works on bytes alone, so a revision prepared and stored by an earlier
 * attempt (or another process) can be completed.
 */
export function embedSignatureContents(
  revision: Uint8Array,
  placeholderAt: number,
  capacity: number,
  cms: Uint8Array,
): Uint8Array {
  if (
    revision[placeholderAt] !== 0x3c /* < */ ||
    revision[placeholderAt + capacity * 2 + 1] !== 0x3e /* > */
  ) {
    throw new EsignError("E_INTERNAL", "the revision has no /Contents placeholder where its /ByteRange says");
  }
  if (cms.length > capacity) {
    throw new EsignError(
      "E_CONTENTS_TOO_SMALL",
      `the CMS is ${cms.length} bytes but only ${capacity} were reserved; the signer's size estimate is too low, raise contentsSize`,
    );
  }
  const signed = Buffer.from(revision);
  signed.write(asBuffer(cms).toString("hex"), placeholderAt + 1, "latin1");
  return new Uint8Array(signed.buffer, signed.byteOffset, signed.length);
}

/**
 * Finds the placeholders in the signature object (its first keys, so the first matches are
 * ours), computes [0, a, b, c] and writes it over the fixed-width ByteRange placeholder.
 */
function patchByteRange(
  revision: Uint8Array,
  base: number,
  sigStart: number,
  contentsSize: number,
): { byteRange: [number, number, number, number]; contentsAt: number } {
  const byteRangeAt = indexOf(revision, "/ByteRange ", sigStart) + "/ByteRange ".length;
  const contentsAt = indexOf(revision, "/Contents <", sigStart) + "/Contents ".length;
  const gapStart = base + contentsAt;
  const gapEnd = gapStart + contentsSize * 2 + 2;
  const signedLength = base + revision.length;
  if (signedLength >= 10 ** BYTE_RANGE_DIGITS)
    throw new EsignError("E_TOO_LARGE", "the signed file would exceed 10 GB");
  const byteRange: [number, number, number, number] = [0, gapStart, gapEnd, signedLength - gapEnd];
  const patched = `[${byteRange.join(" ")}]`.padEnd(BYTE_RANGE_PLACEHOLDER.length, " ");
  revision.set(Buffer.from(patched, "latin1"), byteRangeAt);
  return { byteRange, contentsAt };
}

function signatureDictionary(
  kind: "signature" | "timestamp",
  contentsSize: number,
  options: SignatureOptions,
): PdfDict {
  const placeholders = {
    ByteRange: new PdfRaw(Buffer.from(BYTE_RANGE_PLACEHOLDER, "latin1")),
    Contents: new PdfRaw(Buffer.from(`<${"0".repeat(contentsSize * 2)}>`, "latin1")),
  };
  if (kind === "timestamp") {
    return PdfDict.of({
      Type: name("DocTimeStamp"),
      Filter: name("Adobe.PPKLite"),
      SubFilter: name("ETSI.RFC3161"),
      ...placeholders,
    });
  }
  const text = (value: string | undefined) => (value === undefined ? undefined : encodeTextString(value));
  return PdfDict.of({
    Type: name("Sig"),
    Filter: name("Adobe.PPKLite"),
    SubFilter: name("ETSI.CAdES.detached"),
    ...placeholders,
    M: encodeTextString(formatPdfDate(options.signingTime ?? new Date())),
    Name: text(options.name),
    Reason: text(options.reason),
    Location: text(options.location),
    ContactInfo: text(options.contactInfo),
    Reference:
      options.certify === undefined
        ? undefined
        : [
            PdfDict.of({
              Type: name("SigRef"),
              TransformMethod: name("DocMDP"),
              TransformParams: PdfDict.of({
                Type: name("TransformParams"),
                P: options.certify,
                V: name("1.2"),
              }),
            }),
          ],
  });
}

/**
 * Points a field at the signature: fills the named empty signature field, or creates a merged
 * field/widget on the page, adds it to /Annots and /AcroForm /Fields. Returns the field name.
 */
async function placeField(
  doc: PdfDocument,
  update: IncrementalUpdate,
  sigRef: PdfRef,
  options: SignatureOptions,
): Promise<string> {
  const fields = await formFields(doc);
  const taken = new Set(fields.map((field) => field.name));
  const fieldName = options.fieldName ?? firstFreeName(taken);
  const form = await doc.acroForm();
  let formDict: PdfDict;
  if (form?.ref) {
    formDict = await update.editDict(form.ref);
  } else {
    const catalog = await update.editDict(doc.catalogRef);
    formDict = form?.dict.clone() ?? PdfDict.of({ Fields: [] });
    // A new AcroForm goes in its own object; a direct one stays direct in the catalog copy.
    catalog.set("AcroForm", form ? formDict : update.add(formDict));
  }
  formDict.set("SigFlags", 3);
  // With NeedAppearances a viewer regenerates field appearances on open, which makes Acrobat
  // report the signed document as modified; iText clears it when signing for the same reason.
  if ((await doc.resolve(formDict.get("NeedAppearances"))) === true) formDict.set("NeedAppearances", false);

  const existing = fields.find((field) => field.name === fieldName);
  if (!existing && fieldName.includes(".")) {
    // A period separates the parts of a qualified name; a new field's own name cannot hold one.
    throw new EsignError(
      "E_FIELD",
      `no field '${fieldName}' exists, and a new field name cannot contain '.'`,
    );
  }
  if (existing) {
    if (existing.type !== "Sig")
      throw new EsignError("E_FIELD", `field '${fieldName}' is not a signature field`);
    if (await doc.resolveDict(existing.dict.get("V"))) {
      throw new EsignError("E_FIELD", `signature field '${fieldName}' is already signed`);
    }
    if (!existing.ref)
      throw new EsignError("E_FIELD", `signature field '${fieldName}' is not an indirect object`);
    requirePermission(doc, "fill-signature-field");
    (await update.editDict(existing.ref)).set("V", sigRef);
    if (options.widget) {
      const widget = await widgetOf(doc, existing.dict, existing.ref);
      if (!widget.ref)
        throw new EsignError("E_FIELD", `the widget of field '${fieldName}' is not an indirect object`);
      const entries = visibleWidgetEntries(update, options.widget);
      const widgetDict = await update.editDict(widget.ref);
      for (const [key, value] of Object.entries(entries)) widgetDict.set(key, value);
    }
    return fieldName;
  }

  requirePermission(doc, "new-signature-field");
  const pageNumber = options.widget?.page ?? options.page ?? 1;
  const page = await doc.page(pageNumber);
  if (!page) {
    throw new EsignError(
      "E_FIELD",
      `page ${pageNumber} does not exist (the document has ${await doc.pageCount()})`,
    );
  }
  const widgetRef = update.add(
    PdfDict.of({
      Type: name("Annot"),
      Subtype: name("Widget"),
      FT: name("Sig"),
      T: encodeTextString(fieldName),
      V: sigRef,
      P: page.ref,
      F: 132,
      Rect: [0, 0, 0, 0],
      ...(options.widget && visibleWidgetEntries(update, options.widget)),
    }),
  );
  await update.appendToArray(page.ref, "Annots", [widgetRef]);
  await update.appendToArray(formDict, "Fields", [widgetRef]);
  return fieldName;
}

/** /Rect, /AP and (on rotated pages) /MK /R of a visible widget; the appearance goes into `update`. */
function visibleWidgetEntries(update: IncrementalUpdate, widget: SignatureWidget): Record<string, PdfObject> {
  const entries: Record<string, PdfObject> = {
    Rect: widget.rect,
    AP: PdfDict.of({ N: widget.appearance(update) }),
  };
  if (widget.rotation !== 0) entries.MK = PdfDict.of({ R: widget.rotation });
  return entries;
}

function firstFreeName(taken: Set<string>): string {
  for (let n = 1; ; n++) if (!taken.has(`Signature${n}`)) return `Signature${n}`;
}

function indexOf(bytes: Uint8Array, needle: string, from: number): number {
  const index = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(needle, from, "latin1");
  if (index < 0) throw new EsignError("E_INTERNAL", `placeholder ${needle} not found in the revision`);
  return index;
}
