import type { SimulatorContext } from "../context";
import type { CredentialDefinition } from "../credentials";
import { OID } from "../oids";

export type CertificatesChoice = "none" | "single" | "chain";

/** The signature algorithms (signAlgo values) signHash accepts for a key, key algorithm first. */
export function keyAlgorithms(credential: CredentialDefinition): string[] {
  return credential.key.type === "RSA"
    ? [OID.rsaEncryption, OID.sha256WithRsa, OID.rsassaPss]
    : [OID.ecPublicKey, OID.ecdsaWithSha256];
}

/** X.509 GeneralizedTime text, the form CSC uses for validFrom/validTo. */
function generalizedTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;
}

function authInfo(credential: CredentialDefinition) {
  if (credential.authMode === "implicit") return { mode: "implicit" };
  const objects = [
    ...(credential.pin === undefined
      ? []
      : [{ type: "Password", id: "PIN", format: "N", label: "PIN", description: "The signer's PIN" }]),
    ...(credential.otp
      ? [
          {
            type: "Password",
            id: "OTP",
            format: "N",
            generator: "sendOTP",
            label: "OTP",
            description: "One-time password sent by credentials/sendOTP",
          },
        ]
      : []),
  ];
  return { mode: "explicit", expression: objects.map((object) => object.id).join(" AND "), objects };
}

/** The credentials/info answer (CSC v2) for one credential. */
export function credentialInfo(
  context: SimulatorContext,
  credential: CredentialDefinition,
  options: { certificates: CertificatesChoice; certInfo: boolean; authInfo: boolean },
) {
  const entity = context.credentialCertificate(credential.id);
  const revoked = context.isRevoked(credential.id);
  const chain = [entity, context.pki.issuing, context.pki.root];
  const certificates = { none: [], single: [entity], chain }[options.certificates].map((item) =>
    item.der.toString("base64"),
  );
  const { certificate } = entity;
  return {
    description: credential.description,
    signatureQualifier: credential.kind === "seal" ? "eu_eidas_aeseal" : "eu_eidas_aes",
    key: {
      status: revoked ? "disabled" : "enabled",
      algo: keyAlgorithms(credential),
      len: credential.key.type === "RSA" ? credential.key.bits : 256,
      ...(credential.key.type === "EC" ? { curve: OID.prime256v1 } : {}),
    },
    cert: {
      status: revoked ? "revoked" : "valid",
      ...(options.certificates === "none" ? {} : { certificates }),
      ...(options.certInfo
        ? {
            issuerDN: certificate.issuer,
            serialNumber: certificate.serialNumber,
            subjectDN: certificate.subject,
            validFrom: generalizedTime(certificate.notBefore),
            validTo: generalizedTime(certificate.notAfter),
          }
        : {}),
    },
    ...(options.authInfo ? { auth: authInfo(credential) } : {}),
    authMode: credential.authMode,
    // SCAL 2: the SAD must be bound to the hashes it is used for.
    SCAL: credential.authMode === "explicit" ? "2" : "1",
    multisign: credential.multisign,
    lang: "en-US",
  };
}
