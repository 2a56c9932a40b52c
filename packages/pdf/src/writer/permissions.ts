import { EsignError } from "@esign/errors";
import type { PdfDocument } from "../reader/document";

/** What a signing revision changes, as far as an encrypted document's /P is concerned. */
export type SigningChange =
  /** A new signature field: a signature without a prepared field, a certification, a document time-stamp. */
  | "new-signature-field"
  /** Signing into an existing empty signature field. */
  | "fill-signature-field"
  /** A /DSS for signatures already made (B-LT). */
  | "validation-data";

const BIT_MEANING: Record<number, string> = {
  4: "modify the document",
  6: "add annotations and fill in form fields",
  9: "fill in existing form fields, signature fields included",
};

/**
 * Refuses with E_PERMISSION when the document was opened with its user password only and its
 * /P (ISO 32000-2 table 22) does not allow `change`; the owner password allows everything.
 * Validation data is held to the same bits as filling a field: it belongs to a signature the
 * same permissions allowed, it changes nothing a reader sees.
 */
export function requirePermission(doc: PdfDocument, change: SigningChange): void {
  const encryption = doc.encryption;
  if (!encryption || encryption.access === "owner") return;
  const missing = missingBit(change, (bit) => encryption.allows(bit), encryption.revision);
  if (missing === undefined) return;
  throw new EsignError(
    "E_PERMISSION",
    `the document's permissions (/P ${encryption.permissions}) forbid this signature: bit ${missing} ` +
      `(${BIT_MEANING[missing]}) is not set; with the owner password it can be signed`,
  );
}

function missingBit(
  change: SigningChange,
  allows: (bit: number) => boolean,
  revision: number,
): number | undefined {
  if (change === "new-signature-field") {
    // Bit 6: "...and, if bit 4 is also set, create or modify interactive form fields".
    if (!allows(4)) return 4;
    return allows(6) ? undefined : 6;
  }
  // Bit 9 (R3 and later) allows filling existing fields even when bit 6 is clear.
  if (allows(6) || (revision >= 3 && allows(9))) return undefined;
  return revision >= 3 ? 9 : 6;
}
