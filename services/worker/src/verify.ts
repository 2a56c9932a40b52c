import { X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import { type DigestAlgorithm, OID, parseCms, verifyData } from "@esign/pades";
import { type ByteSource, hashByteRange, openPdf, signatureFields } from "@esign/pdf";
import type { SignerDescription } from "@esign/signers";

/**
 * Checks that a CMS from the signing service is one we can embed: its messageDigest is our
 * document digest, it carries our signer's certificate, and the signature over its signed
 * attributes verifies with that certificate's key. A service answering for another document, or
 * with a broken signature, is caught before the CMS is kept (E_SIGNATURE_MISMATCH, retried).
 */
export function checkCms(cms: Uint8Array, documentDigest: Uint8Array, signer: SignerDescription): void {
  const mismatch = (why: string) =>
    new EsignError("E_SIGNATURE_MISMATCH", `the signing service's CMS is unusable: ${why}`);
  let parsed: ReturnType<typeof parseCms>;
  try {
    parsed = parseCms(cms);
  } catch (cause) {
    throw new EsignError("E_SIGNER_BAD_RESPONSE", "the signing service's CMS does not parse", { cause });
  }
  const signerInfo = parsed.signerInfos[0];
  if (!signerInfo?.signedAttributesDer) throw mismatch("no signed attributes");
  const encoded = signerInfo.signedAttributes.find((attribute) => attribute.type === OID.messageDigest)
    ?.values[0];
  // OCTET STRING with a short-form length: a digest is at most 64 bytes.
  const messageDigest = encoded?.[0] === 0x04 ? encoded.subarray(2, 2 + (encoded[1] ?? 0)) : undefined;
  if (!messageDigest || Buffer.compare(messageDigest, documentDigest) !== 0) {
    throw mismatch("it does not cover this document's digest");
  }
  if (!parsed.certificates.some((certificate) => Buffer.compare(certificate, signer.certificate) === 0)) {
    throw mismatch("it does not carry the configured signer certificate");
  }
  const publicKey = new X509Certificate(signer.certificate).publicKey;
  if (
    !verifyData(publicKey, signer.signatureAlgorithm, signerInfo.signedAttributesDer, signerInfo.signature)
  ) {
    throw mismatch("its signature does not verify with the signer certificate");
  }
}

export interface ExpectedSignature {
  fieldName: string;
  /** Length the signature covers: the document up to the end of its own revision (a /DSS may follow). */
  signedLength: number;
  digestAlgorithm: DigestAlgorithm;
  signer: SignerDescription;
}

/**
 * Re-opens the finished document as a reader would and checks the new signature: the field is
 * signed, its /ByteRange hashes to the digest in its CMS, and the CMS verifies. Returns the bytes
 * hashed. Failing here means our own output is wrong: E_VERIFY, permanent.
 */
export async function verifySignedOutput(output: ByteSource, expected: ExpectedSignature): Promise<number> {
  const fields = await openPdf(output).then(signatureFields);
  const signature = fields.find((field) => field.name === expected.fieldName)?.signature;
  if (!signature) {
    throw new EsignError("E_VERIFY", `the signed output has no signature in field ${expected.fieldName}`);
  }
  const [, gapStart = 0, gapEnd = 0, tail = 0] = signature.byteRange;
  if (signature.byteRange.length !== 4 || gapEnd + tail !== expected.signedLength) {
    throw new EsignError("E_VERIFY", "the new signature's /ByteRange does not cover its whole revision");
  }
  const digest = await hashByteRange(output, signature.byteRange, expected.digestAlgorithm);
  try {
    checkCms(signature.contents, digest, expected.signer);
  } catch (cause) {
    throw new EsignError("E_VERIFY", `the signed output does not verify: ${(cause as Error).message}`, {
      cause,
    });
  }
  return gapStart + tail;
}
