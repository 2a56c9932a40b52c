import { createHash, type KeyObject, X509Certificate } from "node:crypto";
import { type Block, children, isContextTag, octetsOf, oidOf, parseBer, rawBytes } from "../asn1/read";
import { parseSignatureAlgorithm } from "../pki/algorithm-identifiers";
import { verifyData } from "../pki/algorithms";
import { bytesEqual, certificateIdentity } from "../pki/certificate";

const OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1";
const OCSP_SIGNING = "1.3.6.1.5.5.7.3.9";
const HASHES: Record<string, string> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

export interface RevocationStatus {
  source: "ocsp" | "crl";
  status: "good" | "revoked" | "unknown";
}

function tryParse(der: Uint8Array): Block | undefined {
  try {
    return parseBer(der, "revocation data", "E_VERIFY");
  } catch {
    return undefined;
  }
}

/** Checks the signature of an X.509-style signed structure: SEQUENCE { tbs, algorithm, BIT STRING, ... }. */
function signedBy(structure: Block, publicKey: KeyObject): boolean {
  const [tbs, algorithm, signature] = children(structure);
  const [algorithmOid, parameters] = children(algorithm);
  const parsed = parseSignatureAlgorithm(
    oidOf(algorithmOid) ?? "",
    parameters && rawBytes(parameters),
    undefined,
  );
  if (!tbs || !signature || typeof parsed === "string") return false;
  return verifyData(publicKey, parsed, rawBytes(tbs), octetsOf(signature));
}

function issuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
}

/** The OCSP signer must be the CA itself or a certificate it issued for OCSP signing (RFC 6960 4.2.2.2). */
function signedByResponder(basic: Block, issuer: X509Certificate): boolean {
  if (signedBy(basic, issuer.publicKey)) return true;
  const certificates = children(children(children(basic).find((field) => isContextTag(field, 0)))[0]);
  return certificates.some((block) => {
    const responder = new X509Certificate(rawBytes(block));
    return (
      issuedBy(responder, issuer) &&
      (responder.keyUsage ?? []).includes(OCSP_SIGNING) &&
      signedBy(basic, responder.publicKey)
    );
  });
}

/** Status of `certificate` in one OCSPResponse, if the response names it and its issuer's responder signed it. */
function ocspStatus(
  response: Uint8Array,
  certificate: Uint8Array,
  issuer: X509Certificate,
): RevocationStatus | undefined {
  const [, responseBytes] = children(tryParse(response));
  const [type, basicOctets] = children(children(responseBytes)[0]);
  if (oidOf(type) !== OCSP_BASIC || !basicOctets) return undefined;
  const basic = tryParse(octetsOf(basicOctets));
  const tbs = children(children(basic)[0]);
  // ResponseData: [0] version (optional), responderID, producedAt, responses.
  const responses = tbs[tbs[0] && isContextTag(tbs[0], 0) ? 3 : 2];
  const { issuer: issuerName, serialNumber } = certificateIdentity(certificate);
  for (const single of children(responses)) {
    const [certId, certStatus] = children(single);
    const [hashAlgorithm, issuerNameHash, , serial] = children(certId);
    const algorithm = HASHES[oidOf(children(hashAlgorithm)[0]) ?? ""];
    if (!algorithm || !issuerNameHash || !serial || !certStatus) continue;
    const nameHash = createHash(algorithm).update(issuerName).digest();
    if (!bytesEqual(rawBytes(serial), serialNumber) || !bytesEqual(octetsOf(issuerNameHash), nameHash))
      continue;
    if (!basic || !signedByResponder(basic, issuer)) return undefined;
    const status = (["good", "revoked", "unknown"] as const)[certStatus.idBlock.tagNumber] ?? "unknown";
    return { source: "ocsp", status };
  }
  return undefined;
}

/** Status of `certificate` in a CRL, if the CRL is its issuer's (by name) and the issuer signed it. */
function crlStatus(
  crl: Uint8Array,
  certificate: Uint8Array,
  issuer: X509Certificate,
): RevocationStatus | undefined {
  const parsed = tryParse(crl);
  const tbs = children(children(parsed)[0]);
  // TBSCertList: version INTEGER is optional (v1 CRLs), then signature, issuer, thisUpdate, [nextUpdate], [revoked].
  const offset = tbs[0]?.idBlock.tagNumber === 2 && !tbs[0].idBlock.isConstructed ? 1 : 0;
  const crlIssuer = tbs[offset + 1];
  const { issuer: issuerName, serialNumber } = certificateIdentity(certificate);
  if (!parsed || !crlIssuer || !bytesEqual(rawBytes(crlIssuer), issuerName)) return undefined;
  if (!signedBy(parsed, issuer.publicKey)) return undefined;
  const revokedList = tbs
    .slice(offset + 3)
    .find((field) => field.idBlock.tagClass === 1 && field.idBlock.tagNumber === 16);
  const revoked = children(revokedList).some((entry) => {
    const serial = children(entry)[0];
    return serial !== undefined && bytesEqual(rawBytes(serial), serialNumber);
  });
  return { source: "crl", status: revoked ? "revoked" : "good" };
}

/**
 * What the collected OCSP responses and CRLs say about `certificate`: the first OCSP response
 * that names it, else the first CRL of its issuer. Only answers signed by the certificate's
 * issuer (found in `pool`) or its delegated OCSP responder count; freshness is not judged here.
 */
export function revocationStatus(
  certificate: Uint8Array,
  pool: Uint8Array[],
  ocsps: Uint8Array[],
  crls: Uint8Array[],
): RevocationStatus | undefined {
  const subject = new X509Certificate(certificate);
  const issuer = pool
    .map((der) => new X509Certificate(der))
    .find((candidate) => issuedBy(subject, candidate));
  if (!issuer) return undefined;
  for (const response of ocsps) {
    const status = ocspStatus(response, certificate, issuer);
    if (status) return status;
  }
  for (const crl of crls) {
    const status = crlStatus(crl, certificate, issuer);
    if (status) return status;
  }
  return undefined;
}
