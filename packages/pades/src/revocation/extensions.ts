import { OID } from "../asn1/oids";
import { type Block, children, isContextTag, octetsOf, oidOf, parseBer } from "../asn1/read";
import { certificateFields } from "../pki/certificate";

/** The uniformResourceIdentifier ([6] IA5String) entries of a GeneralNames. */
function uris(generalNames: Block[]): string[] {
  return generalNames
    .filter((name) => isContextTag(name, 6))
    .map((name) => Buffer.from(octetsOf(name)).toString("latin1"))
    .filter((url) => /^https?:\/\//i.test(url));
}

function extension(certificate: Uint8Array, id: string): Block | undefined {
  const value = certificateFields(certificate).extensions.get(id);
  return value && parseBer(value, "certificate extension", "E_CERT");
}

/**
 * The HTTP(S) OCSP responder URLs (AIA id-ad-ocsp), CRL distribution point URLs and issuer
 * certificate URLs (AIA id-ad-caIssuers) of a certificate.
 */
export function revocationUrls(certificate: Uint8Array): {
  ocsp: string[];
  crl: string[];
  caIssuers: string[];
} {
  // AuthorityInfoAccess: SEQUENCE OF AccessDescription { accessMethod OID, accessLocation GeneralName }
  const access = children(extension(certificate, OID.authorityInfoAccess));
  const locations = (method: string) =>
    uris(access.filter((entry) => oidOf(children(entry)[0]) === method).map((entry) => children(entry)[1]!));
  // CRLDistributionPoints: SEQUENCE OF DistributionPoint { [0] distributionPoint { [0] fullName GeneralNames } }
  const points = children(extension(certificate, OID.crlDistributionPoints));
  const fullNames = points.flatMap((point) => {
    const name = children(point).find((field) => isContextTag(field, 0));
    const fullName = children(name).find((field) => isContextTag(field, 0));
    return children(fullName);
  });
  return { ocsp: locations(OID.accessOcsp), caIssuers: locations(OID.accessCaIssuers), crl: uris(fullNames) };
}

/** Certificates marked id-pkix-ocsp-nocheck (OCSP responders) need no status of their own. */
export function hasOcspNoCheck(certificate: Uint8Array): boolean {
  return certificateFields(certificate).extensions.has(OID.ocspNoCheck);
}
