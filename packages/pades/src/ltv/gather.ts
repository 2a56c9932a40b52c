import { createHash, X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import { OID } from "../asn1/oids";
import { attributeValues, parseCms } from "../cms/parse";
import { bytesEqual } from "../pki/certificate";
import { isIssuedBy } from "../pki/chain";
import { hasOcspNoCheck, revocationUrls } from "../revocation/extensions";
import { fetchCrl, fetchIssuer, fetchOcsp } from "../revocation/fetch";
import type { RevocationOptions } from "../revocation/policies";

/** Validation data for a /DSS, all DER. */
export interface LtvData {
  certs: Uint8Array[];
  ocsps: Uint8Array[];
  crls: Uint8Array[];
}

/**
 * The /DSS /VRI key of a signature: uppercase hex SHA-1 of its /Contents bytes as embedded, i.e.
 * the CMS followed by the placeholder's zero padding.
 */
export function vriKey(contents: Uint8Array): string {
  return createHash("sha1").update(contents).digest("hex").toUpperCase();
}

/** Every certificate a CMS signature brings: its own and those of its signature time-stamps' TSAs. */
export function certificatesOfSignature(cms: Uint8Array): Uint8Array[] {
  const parsed = parseCms(cms);
  const tokens = parsed.signerInfos.flatMap(
    (signer) => attributeValues(signer.unsignedAttributes, OID.signatureTimeStampToken) ?? [],
  );
  return unique([...parsed.certificates, ...tokens.flatMap((token) => parseCms(token).certificates)]);
}

function unique(items: Uint8Array[]): Uint8Array[] {
  return items.filter((item, index) => items.findIndex((other) => bytesEqual(other, item)) === index);
}

/**
 * Gathers what a verifier needs to check `certificates` later without the network: for each one
 * below a trust anchor, an OCSP response from its AIA responder (or, failing that, a CRL from its
 * distribution points), and the certificates of the OCSP responders, which are checked in turn
 * unless marked ocsp-nocheck. A revoked certificate stops the gathering with E_REVOCATION.
 */
export async function gatherLtv(
  certificates: Uint8Array[],
  options: RevocationOptions = {},
): Promise<LtvData> {
  const pool = unique(certificates);
  const data: LtvData = { certs: [...pool], ocsps: [], crls: [] };
  for (let index = 0; index < pool.length; index++) {
    const der = pool[index]!;
    const certificate = new X509Certificate(der);
    if (isIssuedBy(certificate, certificate) || hasOcspNoCheck(der)) continue;
    let issuer = pool.find((candidate) => isIssuedBy(certificate, new X509Certificate(candidate)));
    // Chains often stop below the root: the verifier needs the rest, and its status too.
    issuer ??= await fetchIssuer(der, options);
    if (issuer && !pool.some((known) => bytesEqual(known, issuer!))) {
      pool.push(issuer);
      data.certs.push(issuer);
    }
    if (!issuer) {
      throw new EsignError(
        "E_REVOCATION",
        `the issuer of ${certificate.subject} is not among the certificates`,
      );
    }
    const urls = revocationUrls(der);
    let lastError: unknown = new EsignError(
      "E_REVOCATION",
      `${certificate.subject} names no OCSP responder or CRL distribution point`,
      { permanent: true },
    );
    let found = false;
    for (const url of urls.ocsp) {
      try {
        const result = await fetchOcsp(url, der, issuer, options);
        data.ocsps.push(result.response);
        for (const responder of result.certificates) {
          if (!pool.some((known) => bytesEqual(known, responder))) {
            pool.push(responder);
            data.certs.push(responder);
          }
        }
        found = true;
        break;
      } catch (error) {
        if (error instanceof EsignError && error.permanent) throw error;
        lastError = error;
      }
    }
    for (const url of found ? [] : urls.crl) {
      try {
        const crl = await fetchCrl(url, der, issuer, options);
        if (!data.crls.some((known) => bytesEqual(known, crl))) data.crls.push(crl);
        found = true;
        break;
      } catch (error) {
        if (error instanceof EsignError && error.permanent) throw error;
        lastError = error;
      }
    }
    if (!found) throw lastError;
  }
  return data;
}
