import { EsignError } from "@esign/errors";
import { digestLength } from "../pki/algorithms";
import { bytesEqual } from "../pki/certificate";
import { type CmsVerification, verifyParsedCms } from "../validation/verify-cms";
import { parseCms } from "./parse";

export interface ReturnedCmsExpectation {
  /** The digest we computed locally and sent: the CMS must sign exactly this. */
  documentDigest: Uint8Array;
  /** The certificate the signature must be made with; when absent, the CMS's own signer certificate. */
  certificate?: Uint8Array;
  /** Who answered, for the messages ("the signing service", "the E-sign API", ...). */
  source?: string;
}

/**
 * The one check a CMS passes before we embed (or pay to keep) it, whichever backend made it:
 * it parses, has one SignerInfo with signed attributes, its message-digest is our document
 * digest, its signature verifies over the signed attributes with the signer certificate, and
 * that certificate is the expected one. A CMS that parses but signs something else is
 * E_SIGNATURE_MISMATCH (permanent: it was billed, asking again would bill again); one that does
 * not parse is E_SIGNER_BAD_RESPONSE. Returns the verification for callers that check more
 * (an E-sign API's time-stamp).
 */
export async function checkReturnedCms(
  cms: Uint8Array,
  expected: ReturnedCmsExpectation,
): Promise<CmsVerification> {
  const source = expected.source ?? "the signing service";
  let verification: CmsVerification;
  try {
    const parsed = parseCms(cms);
    if (parsed.signerInfos.length !== 1) throw new Error("expected exactly one SignerInfo");
    verification = await verifyParsedCms(parsed, {
      digestContent: async (algorithm) => {
        if (expected.documentDigest.length !== digestLength(algorithm)) {
          throw new Error(`the CMS digests with ${algorithm}, which is not the algorithm of our digest`);
        }
        return expected.documentDigest;
      },
    });
  } catch (cause) {
    if (cause instanceof EsignError && cause.code === "E_SIGNATURE_MISMATCH") throw cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new EsignError("E_SIGNER_BAD_RESPONSE", `${source} sent an unusable CMS: ${message}`, { cause });
  }
  const mismatch = (why: string) =>
    new EsignError("E_SIGNATURE_MISMATCH", `${source}'s CMS is unusable: ${why}`);
  if (!verification.messageDigestMatches) throw mismatch("it does not cover this document's digest");
  if (!verification.signerCertificate) throw mismatch("it does not carry its signer certificate");
  if (expected.certificate && !bytesEqual(verification.signerCertificate, expected.certificate)) {
    throw mismatch("it is not signed with the configured signer certificate");
  }
  if (!verification.signatureValid || verification.signingCertificate === "mismatch") {
    throw mismatch("its signature does not verify over its signed attributes with its signer certificate");
  }
  return verification;
}
