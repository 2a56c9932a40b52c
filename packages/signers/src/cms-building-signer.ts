import { EsignError } from "@esign/errors";
import {
  addUnsignedAttribute,
  assembleCms,
  assertUsableSignerCertificate,
  buildSignedAttributes,
  type DigestAlgorithm,
  digestAlgorithmOf,
  digestLength,
  hash,
  OID,
  type SignatureAlgorithm,
  signatureValueOf,
  verifyData,
  x509Of,
} from "@esign/pades";
import type {
  PadesLevel,
  RawSignatureProvider,
  Signer,
  SignerDescription,
  SignRequest,
  SignResult,
  Timestamper,
} from "./types";

export interface CmsBuildingSignerOptions {
  provider: RawSignatureProvider;
  /** Needed for B-T and above; without it such requests fail with E_CONFIG. */
  timestamper?: Timestamper;
}

/** DER size of the largest signature value a key of this certificate can produce. */
function maxSignatureSize(certificate: Uint8Array, algorithm: SignatureAlgorithm): number {
  const details = x509Of(certificate).publicKey.asymmetricKeyDetails ?? {};
  if (details.modulusLength) return Math.ceil(details.modulusLength / 8);
  const fieldBytes = { prime256v1: 32, secp384r1: 48, secp521r1: 66 }[details.namedCurve ?? ""];
  if (!fieldBytes)
    throw new EsignError("E_CERT", `cannot size ${algorithm} signatures for this certificate key`);
  // SEQUENCE { INTEGER r, INTEGER s }, each with a possible leading zero; 3-byte headers at most.
  return 2 * (fieldBytes + 1 + 3) + 4;
}

/**
 * Turns a raw signature provider into a PAdES Signer: builds the B-B signed attributes, has the
 * provider sign their hash, assembles the CMS, and checks the returned signature against the
 * certificate before anything is embedded (a remote service that signs the wrong thing must not
 * produce a PDF that only fails later, in the recipient's viewer).
 */
export class CmsBuildingSigner implements Signer {
  private description: Promise<SignerDescription> | undefined;

  /** The provider's probe, where it has one. */
  readonly probe?: () => Promise<void>;

  constructor(private readonly options: CmsBuildingSignerOptions) {
    const provider = options.provider;
    if (provider.probe) this.probe = () => provider.probe!();
  }

  describe(): Promise<SignerDescription> {
    this.description ??= this.options.provider.describe().catch((error: unknown) => {
      this.description = undefined; // a failed lookup (network) may succeed next time
      throw error;
    });
    return this.description;
  }

  async sign(request: SignRequest): Promise<SignResult> {
    const [result] = await this.signBatch([request]);
    return result!;
  }

  async signBatch(requests: SignRequest[]): Promise<SignResult[]> {
    if (requests.length === 0) return [];
    const description = await this.describe();
    assertUsableSignerCertificate(description.certificate);
    const digestAlgorithm = digestAlgorithmOf(description.signatureAlgorithm);
    for (const request of requests) this.checkRequest(request, digestAlgorithm);

    const signedAttributes = requests.map((request) =>
      buildSignedAttributes({
        documentDigest: request.documentDigest,
        signerCertificate: description.certificate,
        digestAlgorithm,
      }),
    );
    const hashes = signedAttributes.map((attributes) => hash(digestAlgorithm, attributes));
    const { signatures, replayed } = await this.options.provider.signHashes(
      hashes,
      signedAttributes,
      requests.map((request) => request.idempotencyKey),
    );
    if (signatures.length !== requests.length) {
      throw new EsignError(
        "E_SIGNER_BAD_RESPONSE",
        `asked for ${requests.length} signatures, the signing service returned ${signatures.length}`,
      );
    }
    // Parsed once per certificate (x509Of caches by content, the key object with it).
    const publicKey = x509Of(description.certificate).publicKey;
    return Promise.all(
      requests.map(async (request, index) => {
        const signature = signatures[index]!;
        if (!verifyData(publicKey, description.signatureAlgorithm, signedAttributes[index]!, signature)) {
          throw new EsignError(
            "E_SIGNATURE_MISMATCH",
            `signature ${index + 1} of ${requests.length} does not verify with the signer certificate (${description.signatureAlgorithm})`,
          );
        }
        const cms = assembleCms({
          signedAttributes: signedAttributes[index]!,
          signature,
          signatureAlgorithm: description.signatureAlgorithm,
          signerCertificate: description.certificate,
          certificates: description.chain,
        });
        return {
          cms: request.level === "B-B" ? cms : await this.addSignatureTimestamp(cms),
          ...(replayed?.[index] && { replayed: true }),
        };
      }),
    );
  }

  private readonly estimates = new Map<PadesLevel, Promise<number>>();

  /** Sized once per level: the estimate depends on the certificates and the level only. */
  estimateCmsSize(level: PadesLevel): Promise<number> {
    let estimate = this.estimates.get(level);
    if (!estimate) {
      estimate = this.computeCmsSize(level).catch((error: unknown) => {
        this.estimates.delete(level); // a failed lookup (TSA, network) may succeed next time
        throw error;
      });
      this.estimates.set(level, estimate);
    }
    return estimate;
  }

  private async computeCmsSize(level: PadesLevel): Promise<number> {
    const description = await this.describe();
    const digestAlgorithm = digestAlgorithmOf(description.signatureAlgorithm);
    const signedAttributes = buildSignedAttributes({
      documentDigest: new Uint8Array(digestLength(digestAlgorithm)),
      signerCertificate: description.certificate,
      digestAlgorithm,
    });
    const cms = assembleCms({
      signedAttributes,
      signature: new Uint8Array(maxSignatureSize(description.certificate, description.signatureAlgorithm)),
      signatureAlgorithm: description.signatureAlgorithm,
      signerCertificate: description.certificate,
      certificates: description.chain,
    });
    // Unsigned attributes wrapper around the token: [1] + Attribute SEQUENCE + OID + SET headers.
    const timestampSize =
      level === "B-B" ? 0 : (await this.requireTimestamper(level).estimateTokenSize()) + 32;
    return cms.length + timestampSize;
  }

  async close(): Promise<void> {
    await this.options.provider.close?.();
  }

  private checkRequest(request: SignRequest, digestAlgorithm: DigestAlgorithm): void {
    if (request.digestAlgorithm !== digestAlgorithm) {
      throw new EsignError(
        "E_CONFIG",
        `this signer's key signs with ${digestAlgorithm}; the document digest was computed with ${request.digestAlgorithm}`,
      );
    }
    if (request.level !== "B-B") this.requireTimestamper(request.level);
  }

  private requireTimestamper(level: PadesLevel): Timestamper {
    if (!this.options.timestamper) {
      throw new EsignError("E_CONFIG", `PAdES ${level} needs a time-stamp authority, and none is configured`);
    }
    return this.options.timestamper;
  }

  private async addSignatureTimestamp(cms: Uint8Array): Promise<Uint8Array> {
    const token = await this.options.timestamper!.timestamp(signatureValueOf(cms));
    return addUnsignedAttribute(cms, OID.signatureTimeStampToken, token);
  }
}
