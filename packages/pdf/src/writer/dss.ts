import type { Writable } from "node:stream";
import { EsignError } from "@esign/errors";
import { type ByteSource, ConcatSource, writeWithRevision } from "../io/source";
import type { PdfDocument } from "../reader/document";
import { name, PdfDict, type PdfObject, PdfRef, PdfStream } from "../syntax/objects";
import { encodeTextString, formatPdfDate } from "../syntax/text";
import { IncrementalUpdate } from "./incremental";
import { requirePermission } from "./permissions";

/** Validation data for one signature: indexes into the DssInput arrays. */
export interface VriEntry {
  certs: number[];
  ocsps: number[];
  crls: number[];
  /** When the data was gathered, written as /TU. */
  time?: Date;
}

export interface DssInput {
  /** DER certificates. */
  certs: Uint8Array[];
  /** DER OCSPResponse structures. */
  ocsps: Uint8Array[];
  /** DER CRLs. */
  crls: Uint8Array[];
  /** Keyed by uppercase hex SHA-1 of a signature's /Contents bytes. */
  vri?: Record<string, VriEntry>;
}

export interface AppendedRevision {
  revision: Uint8Array;
  signedLength: number;
  output(): ByteSource;
  writeTo(destination: Writable | string): Promise<void>;
}

const VRI_KEY = /^[0-9A-F]{40}$/;

/**
 * Appends an incremental revision that adds (or extends) the catalog's /DSS with the given
 * certificates, OCSP responses and CRLs as raw DER streams, keeping every existing entry.
 */
export async function appendDss(doc: PdfDocument, input: DssInput): Promise<AppendedRevision> {
  requirePermission(doc, "validation-data");
  const update = new IncrementalUpdate(doc);
  const addStreams = (items: Uint8Array[]) =>
    items.map((der) => update.add(new PdfStream(new PdfDict(), undefined, der)));
  const refs = {
    certs: addStreams(input.certs),
    ocsps: addStreams(input.ocsps),
    crls: addStreams(input.crls),
  };

  const catalog = await doc.catalog();
  const existingValue = catalog.get("DSS");
  const dss = (await doc.resolveDict(existingValue))?.clone() ?? PdfDict.of({ Type: name("DSS") });
  if (refs.certs.length > 0) await update.appendToArray(dss, "Certs", refs.certs);
  if (refs.ocsps.length > 0) await update.appendToArray(dss, "OCSPs", refs.ocsps);
  if (refs.crls.length > 0) await update.appendToArray(dss, "CRLs", refs.crls);
  if (input.vri && Object.keys(input.vri).length > 0) await mergeVri(doc, update, dss, input.vri, refs);

  if (existingValue instanceof PdfRef) {
    update.set(existingValue, dss);
  } else {
    (await update.editDict(doc.catalogRef)).set("DSS", update.add(dss));
  }
  const { bytes } = update.build();
  return {
    revision: bytes,
    signedLength: doc.source.size + bytes.length,
    output: () => new ConcatSource(doc.source, bytes),
    writeTo: (destination) => writeWithRevision(doc.source, bytes, destination),
  };
}

async function mergeVri(
  doc: PdfDocument,
  update: IncrementalUpdate,
  dss: PdfDict,
  vri: Record<string, VriEntry>,
  refs: { certs: PdfRef[]; ocsps: PdfRef[]; crls: PdfRef[] },
): Promise<void> {
  const vriValue = dss.get("VRI");
  const vriDict = (await doc.resolveDict(vriValue))?.clone() ?? new PdfDict();
  for (const [rawKey, entry] of Object.entries(vri)) {
    const key = rawKey.toUpperCase();
    if (!VRI_KEY.test(key)) throw new EsignError("E_CONFIG", `VRI key '${rawKey}' is not a hex SHA-1`);
    const existing = (await doc.resolveDict(vriDict.get(key)))?.clone() ?? new PdfDict();
    const pick = (list: PdfRef[], indexes: number[], label: string): PdfRef[] =>
      indexes.map((index) => {
        const ref = list[index];
        if (!ref)
          throw new EsignError("E_CONFIG", `VRI ${key} refers to ${label} #${index}, which was not given`);
        return ref;
      });
    const merged = async (field: string, added: PdfRef[]): Promise<void> => {
      if (added.length === 0) return;
      const previous: PdfObject[] = (await doc.resolveArray(existing.get(field))) ?? [];
      existing.set(field, [...previous, ...added]);
    };
    await merged("Cert", pick(refs.certs, entry.certs, "certificate"));
    await merged("OCSP", pick(refs.ocsps, entry.ocsps, "OCSP response"));
    await merged("CRL", pick(refs.crls, entry.crls, "CRL"));
    if (entry.time) existing.set("TU", encodeTextString(formatPdfDate(entry.time)));
    vriDict.set(key, existing);
  }
  if (vriValue instanceof PdfRef) update.set(vriValue, vriDict);
  else dss.set("VRI", vriDict);
}
