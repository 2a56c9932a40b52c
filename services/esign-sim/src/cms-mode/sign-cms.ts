import { createHash } from "node:crypto";
import { assembleCms, buildSignedAttributes, OID as PADES_OID, type SignatureAlgorithm } from "@esign/pades";
import type { SimulatorContext } from "../context";
import type { CredentialDefinition } from "../credentials";
import { decoyDigest } from "../faults";
import { OID } from "../oids";
import { type RawSignatureScheme, signDigest } from "../signing/raw-signature";

export type CmsLevel = "B-B" | "B-T" | "B-LT";

export interface LtvBundle {
  certs: string[];
  ocsps: string[];
  crls: string[];
}

export interface CmsSignResult {
  cms: string;
  ltv?: LtvBundle;
}

function algorithmsFor(credential: CredentialDefinition): {
  cms: SignatureAlgorithm;
  raw: RawSignatureScheme;
} {
  return credential.key.type === "RSA"
    ? { cms: "rsa-pkcs1-sha256", raw: { kind: "rsa-pkcs1", hash: "sha256", hashOid: OID.sha256 } }
    : { cms: "ecdsa-sha256", raw: { kind: "ecdsa" } };
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/**
 * Validation data for B-LT: the certificates of the signer and TSA chains and the OCSP responder,
 * an OCSP response for every certificate below the root, and both CRLs.
 */
async function ltvBundle(context: SimulatorContext, credentialId: string): Promise<LtvBundle> {
  const { pki, ocsp, crls } = context;
  const signer = context.credentialCertificate(credentialId);
  return {
    certs: [signer, pki.issuing, pki.root, pki.tsa, pki.ocspResponder].map((entity) => base64(entity.der)),
    ocsps: [signer, pki.issuing, pki.tsa].map((entity) => base64(ocsp.responseFor(entity))),
    crls: (await Promise.all([crls.issuing.current(), crls.root.current()])).map(base64),
  };
}

/**
 * Signs a document digest the CMS way: PAdES signed attributes around the digest, the credential's
 * signature over them, and for B-T and up a signature time-stamp from the simulator's own TSA.
 */
export async function signCms(
  context: SimulatorContext,
  credential: CredentialDefinition,
  documentDigest: Buffer,
  level: CmsLevel,
  wrongSignature: boolean,
): Promise<CmsSignResult> {
  const signer = context.credentialCertificate(credential.id);
  const algorithms = algorithmsFor(credential);
  const signedAttributes = buildSignedAttributes({
    documentDigest,
    signerCertificate: signer.der,
    digestAlgorithm: "sha256",
  });
  const attributesDigest = createHash("sha256").update(signedAttributes).digest();
  const signature = signDigest(
    signer.key,
    wrongSignature ? decoyDigest(attributesDigest) : attributesDigest,
    algorithms.raw,
  );
  const unsignedAttributes =
    level === "B-B"
      ? []
      : [
          {
            type: PADES_OID.signatureTimeStampToken,
            values: [
              new Uint8Array(
                context.tsa
                  .token({
                    hashOid: OID.sha256,
                    hashedMessage: createHash("sha256").update(signature).digest(),
                    certReq: true,
                  })
                  .toSchema()
                  .toBER(),
              ),
            ],
          },
        ];
  const cms = assembleCms({
    signedAttributes,
    signature,
    signatureAlgorithm: algorithms.cms,
    signerCertificate: signer.der,
    certificates: [context.pki.issuing.der, context.pki.root.der],
    unsignedAttributes,
  });
  return {
    cms: base64(cms),
    ...(level === "B-LT" ? { ltv: await ltvBundle(context, credential.id) } : {}),
  };
}
