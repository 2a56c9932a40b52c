import {
  type DocMdpPermission,
  decodeTextString,
  isName,
  type PdfDict,
  type PdfDocument,
  type PdfObject,
  PdfString,
  type SignatureField,
} from "@esign/pdf";

/**
 * What the revisions after one signature may change: the document's DocMDP level (ISO 32000-2
 * 12.8.2.2) when a certification signature is in force, and the FieldMDP locks (12.8.2.4) of this
 * and the earlier signatures. Without certification the signature is an approval signature:
 * form filling, signing and annotations are allowed, as Acrobat does, unless a lock says otherwise.
 */
export interface ModificationPolicy {
  /** P of the certification signature, undefined for an approval-only document. */
  docMdp: DocMdpPermission | undefined;
  /** Field names whose value no later revision may change. */
  locked: (fieldName: string) => boolean;
}

type Lock = (fieldName: string) => boolean;

async function fieldMdpLock(doc: PdfDocument, params: PdfDict | undefined): Promise<Lock | undefined> {
  if (!params) return undefined;
  const names = new Set<string>();
  for (const item of (await doc.resolveArray(params.get("Fields"))) ?? []) {
    const value = await doc.resolve(item);
    if (value instanceof PdfString) names.add(decodeTextString(value));
  }
  const action = params.get("Action");
  if (isName(action, "All")) return () => true;
  if (isName(action, "Include")) return (field) => names.has(field);
  if (isName(action, "Exclude")) return (field) => !names.has(field);
  return undefined;
}

/** The locks one signature sets: its field's /Lock and FieldMDP references in its dictionary. */
export async function signatureLocks(doc: PdfDocument, field: SignatureField): Promise<Lock[]> {
  const locks: Lock[] = [(name) => name === field.name];
  const fieldLock = await fieldMdpLock(doc, await doc.resolveDict(field.dict.get("Lock")));
  if (fieldLock) locks.push(fieldLock);
  const sigDict = await doc.resolveDict(field.dict.get("V"));
  for (const item of (await doc.resolveArray(sigDict?.get("Reference"))) ?? []) {
    const reference = await doc.resolveDict(item);
    if (!isName(reference?.get("TransformMethod"), "FieldMDP")) continue;
    const lock = await fieldMdpLock(doc, await doc.resolveDict(reference?.get("TransformParams")));
    if (lock) locks.push(lock);
  }
  return locks;
}

/** A /Lock dictionary may also carry /P (PDF 2.0): the strictest of it and DocMDP applies. */
export async function lockPermission(
  doc: PdfDocument,
  field: SignatureField,
): Promise<DocMdpPermission | undefined> {
  const lock = await doc.resolveDict(field.dict.get("Lock"));
  const permission: PdfObject | undefined = lock?.get("P");
  return typeof permission === "number" && permission >= 1 && permission <= 3
    ? (permission as DocMdpPermission)
    : undefined;
}

export function describePolicy(policy: ModificationPolicy): string {
  return policy.docMdp === undefined ? "approval signature" : `DocMDP P=${policy.docMdp}`;
}
