import { asInteger, isName, type PdfDict, type PdfObject, PdfRef, PdfString } from "../syntax/objects";
import { decodeTextString, parsePdfDate } from "../syntax/text";
import type { PdfDocument } from "./document";
import { corrupt, limitExceeded } from "./limits";

export type DocMdpPermission = 1 | 2 | 3;

/** The values of a signature dictionary (`/V` of a signature field). */
export interface SignatureInfo {
  ref: PdfRef | undefined;
  type: "Sig" | "DocTimeStamp";
  filter: string | undefined;
  subFilter: string | undefined;
  byteRange: number[];
  /** The raw /Contents bytes (DER CMS followed by zero padding). */
  contents: Uint8Array;
  /** The raw `/M` string and its parsed value. */
  signingTimeText: string | undefined;
  signingTime: Date | undefined;
  reason: string | undefined;
  location: string | undefined;
  contactInfo: string | undefined;
  name: string | undefined;
  /** DocMDP permission when this signature certifies the document. */
  docMdpPermission: DocMdpPermission | undefined;
}

export interface SignatureField {
  /** Fully qualified field name (`parent.child`). */
  name: string;
  ref: PdfRef | undefined;
  dict: PdfDict;
  signed: boolean;
  signature: SignatureInfo | undefined;
}

export interface FormField {
  name: string;
  ref: PdfRef | undefined;
  dict: PdfDict;
  /** Field type, inherited from ancestors: Sig, Tx, Btn, Ch, or undefined. */
  type: string | undefined;
}

/** Every terminal field of the AcroForm, walking /Kids with cycle and size bounds. */
export async function formFields(doc: PdfDocument): Promise<FormField[]> {
  const form = await doc.acroForm();
  if (!form) return [];
  const roots = (await doc.resolveArray(form.dict.get("Fields"))) ?? [];
  const fields: FormField[] = [];
  const visited = new Set<number>();
  let nodes = 0;
  const visit = async (
    value: PdfObject,
    parentName: string,
    inheritedType: string | undefined,
    depth: number,
  ) => {
    if (depth > doc.limits.maxTreeDepth) throw limitExceeded("form field tree too deep");
    if (++nodes > doc.limits.maxTreeNodes) throw limitExceeded("too many form fields");
    const ref = value instanceof PdfRef ? value : undefined;
    if (ref) {
      if (visited.has(ref.num)) throw corrupt("form field tree contains a cycle");
      visited.add(ref.num);
    }
    const dict = await doc.resolveDict(value);
    if (!dict) return;
    const partial = dict.get("T");
    const name =
      partial instanceof PdfString
        ? parentName
          ? `${parentName}.${decodeTextString(partial)}`
          : decodeTextString(partial)
        : parentName;
    const fieldType = dict.get("FT");
    const type = isName(fieldType) ? fieldType.name : inheritedType;
    const kids = await doc.resolveArray(dict.get("Kids"));
    // Kids that have no /T are widgets of this field, not child fields.
    const childFields: PdfObject[] = [];
    for (const kid of kids ?? []) {
      const kidDict = await doc.resolveDict(kid);
      if (kidDict?.has("T")) childFields.push(kid);
    }
    if (childFields.length === 0) {
      fields.push({ name, ref, dict, type });
      return;
    }
    for (const kid of childFields) await visit(kid, name, type, depth + 1);
  };
  for (const root of roots) await visit(root, "", undefined, 0);
  return fields;
}

/**
 * The widget annotation of a field: the field itself when field and widget are merged (it has a
 * /Rect or is typed /Widget), else its first kid.
 */
export async function widgetOf(
  doc: PdfDocument,
  field: PdfDict,
  fieldRef: PdfRef | undefined,
): Promise<{ dict: PdfDict; ref: PdfRef | undefined }> {
  if (field.has("Rect") || isName(field.get("Subtype"), "Widget")) return { dict: field, ref: fieldRef };
  const kid = (await doc.resolveArray(field.get("Kids")))?.[0];
  const dict = await doc.resolveDict(kid);
  return dict ? { dict, ref: kid instanceof PdfRef ? kid : undefined } : { dict: field, ref: fieldRef };
}

/** The signature fields of the document, signed or empty, with their signature values. */
export async function signatureFields(doc: PdfDocument): Promise<SignatureField[]> {
  const result: SignatureField[] = [];
  for (const field of await formFields(doc)) {
    if (field.type !== "Sig") continue;
    const value = field.dict.get("V");
    const sigDict = await doc.resolveDict(value);
    const signature = sigDict
      ? await readSignature(doc, sigDict, value instanceof PdfRef ? value : undefined)
      : undefined;
    result.push({
      name: field.name,
      ref: field.ref,
      dict: field.dict,
      signed: signature !== undefined,
      signature,
    });
  }
  return result;
}

async function readSignature(
  doc: PdfDocument,
  dict: PdfDict,
  ref: PdfRef | undefined,
): Promise<SignatureInfo> {
  const text = async (key: string) => {
    const value = await doc.resolve(dict.get(key));
    return value instanceof PdfString ? decodeTextString(value) : undefined;
  };
  const contents = await doc.resolve(dict.get("Contents"));
  const byteRange = ((await doc.resolveArray(dict.get("ByteRange"))) ?? []).map((n) => asInteger(n) ?? -1);
  const signingTimeText = await text("M");
  const filter = dict.get("Filter");
  const subFilter = dict.get("SubFilter");
  return {
    ref,
    type: isName(dict.get("Type"), "DocTimeStamp") ? "DocTimeStamp" : "Sig",
    filter: isName(filter) ? filter.name : undefined,
    subFilter: isName(subFilter) ? subFilter.name : undefined,
    byteRange,
    contents: contents instanceof PdfString ? contents.bytes : new Uint8Array(0),
    signingTimeText,
    signingTime: signingTimeText === undefined ? undefined : parsePdfDate(signingTimeText),
    reason: await text("Reason"),
    location: await text("Location"),
    contactInfo: await text("ContactInfo"),
    name: await text("Name"),
    docMdpPermission: await docMdpPermission(doc, dict),
  };
}

async function docMdpPermission(doc: PdfDocument, sigDict: PdfDict): Promise<DocMdpPermission | undefined> {
  for (const item of (await doc.resolveArray(sigDict.get("Reference"))) ?? []) {
    const reference = await doc.resolveDict(item);
    if (!reference || !isName(reference.get("TransformMethod"), "DocMDP")) continue;
    const params = await doc.resolveDict(reference.get("TransformParams"));
    const permission = asInteger(await doc.resolve(params?.get("P"))) ?? 2;
    return (permission >= 1 && permission <= 3 ? permission : 2) as DocMdpPermission;
  }
  return undefined;
}

/** The certification (DocMDP) signature's permission, from the catalog's /Perms. */
export async function certificationPermission(doc: PdfDocument): Promise<DocMdpPermission | undefined> {
  const perms = await doc.resolveDict((await doc.catalog()).get("Perms"));
  const sigDict = await doc.resolveDict(perms?.get("DocMDP"));
  if (!sigDict) return undefined;
  return (await docMdpPermission(doc, sigDict)) ?? 2;
}
