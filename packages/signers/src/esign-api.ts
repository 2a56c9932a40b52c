import { X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import {
  checkCrl,
  checkOcspResponse,
  checkReturnedCms,
  digestAlgorithmOf,
  parseCms,
  type SignatureAlgorithm,
  signatureAlgorithmsForKey,
} from "@esign/pades";
import { z } from "zod";
import { base64Bytes, DEFAULT_TIMEOUT_MS, joinUrl, postJsonAnswer } from "./remote-http";
import type { LtvMaterial, PadesLevel, Signer, SignerDescription, SignRequest, SignResult } from "./types";

export interface EsignApiSignerOptions {
  /** The service root, e.g. https://signing.example (the call goes to {url}/esign/v1/sign). */
  url: string;
  apiKey: string;
  credentialId: string;
  /**
   * The credential's certificate (DER), when known: every answer must be signed with it. Without
   * it, the certificate of the first answer is pinned for the signer's lifetime.
   */
  certificate?: Uint8Array;
  /** Per request. Default 30 s. */
  timeoutMs?: number;
}

const base64 = z.string().min(1);
const signAnswerSchema = z.object({
  cms: base64,
  ltv: z.object({ certs: z.array(base64), ocsps: z.array(base64), crls: z.array(base64) }).optional(),
});

/** What the service can do; B-LTA's document time-stamp is added by the pipeline on top of B-LT. */
type ServiceLevel = "B-B" | "B-T" | "B-LT";
const SERVICE_LEVEL: Record<PadesLevel, ServiceLevel> = {
  "B-B": "B-B",
  "B-T": "B-T",
  "B-LT": "B-LT",
  "B-LTA": "B-LT",
};
/** What differs between two CMS of one credential: ECDSA lengths, TSA serials and times. */
const CMS_SIZE_MARGIN = 256;

/**
 * The `esign-api` backend: the document digest goes to a CMS-returning signing service, which
 * answers with a complete CMS (time-stamped for B-T and up) and, for B-LT, the validation data.
 * Nothing it returns is trusted before it is checked: the CMS must cover our digest, be signed by
 * the credential's certificate over its signed attributes, and its time-stamp must be over its
 * signature.
 */
export class EsignApiSigner implements Signer {
  private certificate: Uint8Array | undefined;
  private description: SignerDescription | undefined;
  private readonly sizes = new Map<ServiceLevel, Promise<number>>();

  constructor(private readonly options: EsignApiSignerOptions) {
    if (!options.url || !options.apiKey || !options.credentialId) {
      throw new EsignError("E_CONFIG", "the esign-api signer needs a URL, an API key and a credential");
    }
    this.certificate = options.certificate;
  }

  /**
   * The service has no certificate lookup: with a configured certificate the description comes
   * from it; otherwise one B-B probe (a random digest, never a document) learns it.
   */
  async describe(): Promise<SignerDescription> {
    if (this.description) return this.description;
    if (this.certificate) {
      return { certificate: this.certificate, chain: [], signatureAlgorithm: algorithmFor(this.certificate) };
    }
    await this.estimateCmsSize("B-B");
    return this.description!;
  }

  async sign(request: SignRequest): Promise<SignResult> {
    if (request.digestAlgorithm !== "sha256") {
      throw new EsignError(
        "E_CONFIG",
        `the E-sign API signs SHA-256 digests, not ${request.digestAlgorithm}`,
      );
    }
    const level = SERVICE_LEVEL[request.level];
    const { body: answer, replayed } = await postJsonAnswer(
      {
        url: joinUrl(this.options.url, "esign/v1/sign"),
        body: {
          credentialId: this.options.credentialId,
          digest: Buffer.from(request.documentDigest).toString("base64"),
          digestAlgorithm: "sha256",
          level,
        },
        headers: { "x-api-key": this.options.apiKey },
        timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        service: "E-sign API",
        idempotencyKey: request.idempotencyKey,
      },
      signAnswerSchema,
    );
    const cms = base64Bytes(answer.cms);
    await this.check(cms, request.documentDigest, level);
    if (level === "B-LT" && !answer.ltv) {
      throw new EsignError("E_SIGNER_BAD_RESPONSE", "the E-sign API sent no validation data for B-LT");
    }
    const ltv: LtvMaterial | undefined = answer.ltv && {
      certs: answer.ltv.certs.map(base64Bytes),
      ocsps: answer.ltv.ocsps.map(base64Bytes),
      crls: answer.ltv.crls.map(base64Bytes),
    };
    const replay = replayed ? { replayed } : {};
    if (!ltv) return { cms, ...replay };
    this.checkValidationData(ltv, parseCms(cms).certificates);
    return { cms, ltv, ...replay };
  }

  /** One probe per service level (B-T and B-LT share the time-stamped size), cached. */
  estimateCmsSize(level: PadesLevel): Promise<number> {
    const probeLevel = SERVICE_LEVEL[level] === "B-B" ? "B-B" : "B-T";
    let size = this.sizes.get(probeLevel);
    if (!size) {
      const digest = new Uint8Array(32);
      crypto.getRandomValues(digest);
      size = this.sign({ documentDigest: digest, digestAlgorithm: "sha256", level: probeLevel }).then(
        ({ cms }) => cms.length + CMS_SIZE_MARGIN,
        (error: unknown) => {
          this.sizes.delete(probeLevel);
          throw error;
        },
      );
      this.sizes.set(probeLevel, size);
    }
    return size;
  }

  private async check(cms: Uint8Array, documentDigest: Uint8Array, level: ServiceLevel): Promise<void> {
    // The one check every returned CMS passes; the E-sign API's own promises (pinned
    // credential, time-stamp over the signature) are checked on top of it.
    const verification = await checkReturnedCms(cms, { documentDigest, source: "the E-sign API" });
    this.pinCertificate(verification.signerCertificate!, parseCms(cms).certificates);
    const timestamp = verification.signatureTimestamp;
    if (level !== "B-B" && !timestamp) {
      throw new EsignError("E_SIGNER_BAD_RESPONSE", `the E-sign API's ${level} signature has no time-stamp`);
    }
    if (
      timestamp &&
      (!timestamp.imprintMatches || !timestamp.signatureValid || !timestamp.messageDigestMatches)
    ) {
      throw new EsignError(
        "E_SIGNER_BAD_RESPONSE",
        "the E-sign API's signature time-stamp is not over its signature",
      );
    }
  }

  /**
   * The validation data must at least prove what it is for: the signer certificate is good, by
   * one of its OCSP responses or CRLs, checked against the issuer's key. A revoked certificate is
   * E_SIGNER_REVOKED; data that proves nothing is E_SIGNER_BAD_RESPONSE.
   */
  private checkValidationData(ltv: LtvMaterial, cmsCertificates: Uint8Array[]): void {
    const signerCertificate = this.certificate!;
    const signer = new X509Certificate(signerCertificate);
    const issuer = [...ltv.certs, ...cmsCertificates].find((candidate) => {
      const issuerCert = new X509Certificate(candidate);
      return signer.checkIssued(issuerCert) && signer.verify(issuerCert.publicKey);
    });
    const proves = (check: () => unknown) => {
      try {
        check();
        return true;
      } catch (error) {
        if (error instanceof EsignError && error.permanent) {
          throw new EsignError("E_SIGNER_REVOKED", error.message, { cause: error });
        }
        return false;
      }
    };
    const good =
      issuer !== undefined &&
      (ltv.ocsps.some((response) => proves(() => checkOcspResponse(response, signerCertificate, issuer))) ||
        ltv.crls.some((crl) => proves(() => checkCrl(crl, signerCertificate, issuer))));
    if (!good) {
      throw new EsignError(
        "E_SIGNER_BAD_RESPONSE",
        "the E-sign API's validation data does not show the signer certificate is good",
      );
    }
  }

  /** The first certificate seen (or the configured one) is the credential's; a different one is refused. */
  private pinCertificate(signerCertificate: Uint8Array, certificates: Uint8Array[]): void {
    if (this.certificate && Buffer.compare(this.certificate, signerCertificate) !== 0) {
      throw new EsignError(
        "E_SIGNER_BAD_RESPONSE",
        `the E-sign API signed with a certificate other than credential ${this.options.credentialId}'s`,
        { permanent: true },
      );
    }
    this.certificate = signerCertificate;
    this.description ??= {
      certificate: signerCertificate,
      chain: certificates.filter((certificate) => Buffer.compare(certificate, signerCertificate) !== 0),
      signatureAlgorithm: algorithmFor(signerCertificate),
    };
  }
}

/** The service signs with SHA-256; the key type decides the family. */
function algorithmFor(certificate: Uint8Array): SignatureAlgorithm {
  const algorithm = signatureAlgorithmsForKey(new X509Certificate(certificate).publicKey).find(
    (candidate) => digestAlgorithmOf(candidate) === "sha256",
  );
  if (!algorithm) throw new EsignError("E_CERT", "the credential's key cannot sign with SHA-256");
  return algorithm;
}

/** Factory form of the `esign-api` backend (what configuration-driven callers look up). */
export function createEsignApiSigner(options: EsignApiSignerOptions): EsignApiSigner {
  return new EsignApiSigner(options);
}
