import { createHash } from "node:crypto";
import { type Block, children, isContextTag, octetsOf, oidOf, parseBer, rawBytes } from "./asn1";
import { bytesEqual, certificateIdentity } from "./certificate";

const OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1";
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

/** Status of `certificate` in one OCSPResponse (matched by CertID issuer-name hash and serial), if it covers it. */
function ocspStatus(response: Uint8Array, certificate: Uint8Array): RevocationStatus | undefined {
  const [, responseBytes] = children(tryParse(response));
  const [type, basic] = responseBytes ? children(children(responseBytes)[0] ?? responseBytes) : [];
  if (oidOf(type) !== OCSP_BASIC || !basic) return undefined;
  const tbs = children(children(parseBer(octetsOf(basic), "BasicOCSPResponse", "E_VERIFY"))[0]!);
  const responses = tbs[isContextTag(tbs[0]!, 0) ? 3 : 2];
  const { issuer, serialNumber } = certificateIdentity(certificate);
  for (const single of responses ? children(responses) : []) {
    const [certId, certStatus] = children(single);
    const [hashAlgorithm, issuerNameHash, , serial] = certId ? children(certId) : [];
    const algorithm = HASHES[oidOf(children(hashAlgorithm)[0]) ?? ""];
    if (!algorithm || !issuerNameHash || !serial || !certStatus) continue;
    const nameHash = createHash(algorithm).update(issuer).digest();
    if (!bytesEqual(rawBytes(serial), serialNumber) || !bytesEqual(octetsOf(issuerNameHash), nameHash))
      continue;
    const status = (["good", "revoked", "unknown"] as const)[certStatus.idBlock.tagNumber] ?? "unknown";
    return { source: "ocsp", status };
  }
  return undefined;
}

/** Status of `certificate` in a CRL from its issuer (by issuer name), if the CRL is that issuer's. */
function crlStatus(crl: Uint8Array, certificate: Uint8Array): RevocationStatus | undefined {
  const parsed = tryParse(crl);
  const tbs = children(children(parsed)[0]);
  // TBSCertList: version INTEGER is optional (v1 CRLs), then signature, issuer, thisUpdate, [nextUpdate], [revoked].
  const offset = tbs[0]?.idBlock.tagNumber === 2 && !tbs[0].idBlock.isConstructed ? 1 : 0;
  const crlIssuer = tbs[offset + 1];
  const { issuer, serialNumber } = certificateIdentity(certificate);
  if (!crlIssuer || !bytesEqual(rawBytes(crlIssuer), issuer)) return undefined;
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
 * that names it, else the first CRL of its issuer. Signatures on the responses are not checked.
 */
export function revocationStatus(
  certificate: Uint8Array,
  ocsps: Uint8Array[],
  crls: Uint8Array[],
): RevocationStatus | undefined {
  for (const response of ocsps) {
    const status = ocspStatus(response, certificate);
    if (status) return status;
  }
  for (const crl of crls) {
    const status = crlStatus(crl, certificate);
    if (status) return status;
  }
  return undefined;
}
