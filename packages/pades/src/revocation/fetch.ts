import { createHash, type KeyObject, verify, X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { octetString, oid, sequence } from "../asn1/der";
import { children, parseBer, rawBytes } from "../asn1/read";
import { httpCall } from "../http";
import { bytesEqual, certificateIdentity } from "../pki/certificate";

/**
 * The fetching side of revocation: OCSP requests and CRL downloads from the URLs in certificates,
 * each answer checked (signature, freshness, "good") before it is kept for a /DSS.
 */
export interface RevocationOptions {
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /** When the status must hold; default now. */
  now?: Date;
}

const OCSP_SIGNING = "1.3.6.1.5.5.7.3.9";
const OCSP_NOCHECK = "1.3.6.1.5.5.7.48.1.5";
const SHA1 = "1.3.14.3.2.26";
/** Clocks of responders and CAs drift; a status "issued" a little in our future is fine. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

/** How the signatureAlgorithm OIDs of OCSP responses and CRLs map to node:crypto. */
const SIGNATURE_HASHES: Record<string, string> = {
  "1.2.840.113549.1.1.5": "sha1",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
};

function revocationError(message: string, permanent = false): EsignError {
  return new EsignError("E_REVOCATION", message, { permanent });
}

/** GET (or with an OCSP request, POST) of a public PKI resource named in a certificate. */
function fetchPublicPki(url: string, service: string, options: RevocationOptions, ocspRequest?: Uint8Array) {
  return httpCall(url, {
    method: ocspRequest ? "POST" : "GET",
    body: ocspRequest,
    headers: ocspRequest ? { "content-type": "application/ocsp-request" } : undefined,
    timeoutMs: options.timeoutMs ?? 10_000,
    unavailableCode: "E_REVOCATION",
    followRedirects: true,
    service,
  });
}

function sha1(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(data).digest());
}

/**
 * The OCSP responder URLs (AIA id-ad-ocsp), CRL distribution point URLs and issuer certificate
 * URLs (AIA id-ad-caIssuers) of a certificate.
 */
export function revocationUrls(certificate: Uint8Array): {
  ocsp: string[];
  crl: string[];
  caIssuers: string[];
} {
  const cert = new x509.X509Certificate(certificate);
  const aia = cert.getExtension(x509.AuthorityInfoAccessExtension);
  const cdp = cert.getExtension(x509.CRLDistributionPointsExtension);
  const httpUrls = (values: (string | undefined)[]) =>
    values.filter((url): url is string => !!url && /^https?:\/\//i.test(url));
  return {
    ocsp: httpUrls(aia?.ocsp.filter((name) => name.type === "url").map((name) => name.value) ?? []),
    caIssuers: httpUrls(aia?.caIssuers.filter((name) => name.type === "url").map((name) => name.value) ?? []),
    crl: httpUrls(
      cdp?.distributionPoints.flatMap(
        (point) => point.distributionPoint?.fullName?.map((name) => name.uniformResourceIdentifier) ?? [],
      ) ?? [],
    ),
  };
}

/** Certificates marked id-pkix-ocsp-nocheck (OCSP responders) need no status of their own. */
export function hasOcspNoCheck(certificate: Uint8Array): boolean {
  return new x509.X509Certificate(certificate).getExtension(OCSP_NOCHECK) !== null;
}

/**
 * Checks a signed structure of the shape SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING, ... }
 * (BasicOCSPResponse, CertificateList) against a public key.
 */
function verifySignedStructure(der: Uint8Array, publicKey: KeyObject): boolean {
  const [tbs, algorithm, signature] = children(parseBer(der, "signed structure", "E_REVOCATION"));
  if (!tbs || !algorithm || !(signature instanceof asn1js.BitString)) return false;
  const algorithmOid = (children(algorithm)[0] as asn1js.ObjectIdentifier | undefined)?.valueBlock.toString();
  const digest = SIGNATURE_HASHES[algorithmOid ?? ""];
  if (!digest) return false;
  try {
    return verify(digest, rawBytes(tbs), publicKey, new Uint8Array(signature.valueBlock.valueHexView));
  } catch {
    return false;
  }
}

const CERT_ID_HASHES: Record<string, string> = {
  [SHA1]: "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

function issuerParts(issuer: Uint8Array) {
  const issuerCert = pkijs.Certificate.fromBER(issuer);
  return {
    key: new Uint8Array(issuerCert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
    name: new Uint8Array(issuerCert.subject.toSchema().toBER()),
  };
}

/** A SHA-1 CertID: what every responder understands (RFC 5019). */
function certId(certificate: Uint8Array, issuer: Uint8Array): Uint8Array {
  const { key, name } = issuerParts(issuer);
  return sequence(
    sequence(oid(SHA1)),
    octetString(sha1(name)),
    octetString(sha1(key)),
    certificateIdentity(certificate).serialNumber,
  );
}

/** Whether a response's CertID names `certificate` (with whatever hash the responder used). */
function namesCertificate(id: pkijs.CertID, certificate: Uint8Array, issuer: Uint8Array): boolean {
  const hashName = CERT_ID_HASHES[id.hashAlgorithm.algorithmId];
  if (!hashName) return false;
  const { key, name } = issuerParts(issuer);
  const digest = (data: Uint8Array) => new Uint8Array(createHash(hashName).update(data).digest());
  return (
    bytesEqual(new Uint8Array(id.issuerNameHash.valueBlock.valueHexView), digest(name)) &&
    bytesEqual(new Uint8Array(id.issuerKeyHash.valueBlock.valueHexView), digest(key)) &&
    bytesEqual(new Uint8Array(id.serialNumber.toBER()), certificateIdentity(certificate).serialNumber)
  );
}

/** The certificate that signed an OCSP response: the CA itself or a responder it delegated to. */
function ocspSigner(
  basicDer: Uint8Array,
  included: Uint8Array[],
  issuer: X509Certificate,
): Uint8Array | undefined {
  if (verifySignedStructure(basicDer, issuer.publicKey)) return new Uint8Array(issuer.raw);
  return included.find((candidate) => {
    const responder = new X509Certificate(candidate);
    return (
      responder.checkIssued(issuer) &&
      responder.verify(issuer.publicKey) &&
      (responder.keyUsage ?? []).includes(OCSP_SIGNING) &&
      verifySignedStructure(basicDer, responder.publicKey)
    );
  });
}

export interface OcspResult {
  /** The OCSPResponse as received, DER, for the /DSS. */
  response: Uint8Array;
  /** Certificates the response carries (a delegated responder's), DER. */
  certificates: Uint8Array[];
}

function parseOcspResponse(body: Uint8Array, fail: (what: string) => EsignError) {
  try {
    const response = pkijs.OCSPResponse.fromBER(body);
    const status = response.responseStatus.valueBlock.valueDec;
    if (status !== 0 || !response.responseBytes) return { status };
    const basicDer = new Uint8Array(response.responseBytes.response.valueBlock.valueHexView);
    return { status, basicDer, basic: pkijs.BasicOCSPResponse.fromBER(basicDer) };
  } catch {
    throw fail("malformed response");
  }
}

/**
 * Fetches and checks the OCSP status of `certificate`: a successful response, signed by its
 * issuer or a delegated responder, that says "good" for exactly this certificate now.
 */
export async function fetchOcsp(
  url: string,
  certificate: Uint8Array,
  issuer: Uint8Array,
  options: RevocationOptions = {},
): Promise<OcspResult> {
  // OCSPRequest { TBSRequest { requestList SEQUENCE OF Request { CertID } } }
  const request = sequence(sequence(sequence(sequence(certId(certificate, issuer)))));
  const answer = await fetchPublicPki(url, "OCSP responder", options, request);
  if (answer.status !== 200) throw revocationError(`OCSP responder ${url}: HTTP ${answer.status}`);
  return checkOcspResponse(answer.body, certificate, issuer, options, `OCSP responder ${url}`);
}

/**
 * Checks an OCSPResponse (fetched, or handed over by a signing service): successful, signed by
 * the certificate's issuer or its delegated responder, current, and "good" for `certificate`.
 * Throws E_REVOCATION (permanent when the certificate is revoked).
 */
export function checkOcspResponse(
  response: Uint8Array,
  certificate: Uint8Array,
  issuer: Uint8Array,
  options: RevocationOptions = {},
  source = "OCSP response",
): OcspResult {
  const fail = (what: string) => revocationError(`${source}: ${what}`);
  const { status, basic, basicDer } = parseOcspResponse(response, fail);
  if (!basic || !basicDer) throw fail(`response status ${status}`);
  const included = (basic.certs ?? []).map((cert) => new Uint8Array(cert.toSchema().toBER()));
  if (!ocspSigner(basicDer, included, new X509Certificate(issuer))) {
    throw fail("the response is not signed by the CA or its delegated responder");
  }
  const single = basic.tbsResponseData.responses.find((entry) =>
    namesCertificate(entry.certID, certificate, issuer),
  );
  if (!single) throw fail(`the response is not about ${subjectOf(certificate)}`);
  const now = options.now ?? new Date();
  if (single.thisUpdate.getTime() > now.getTime() + CLOCK_SKEW_MS)
    throw fail("the response is from the future");
  if (single.nextUpdate && single.nextUpdate.getTime() < now.getTime())
    throw fail("the response is outdated");
  const certStatus = single.certStatus.idBlock.tagNumber;
  if (certStatus === 1) throw revocationError(`${subjectOf(certificate)} is revoked (${source})`, true);
  if (certStatus !== 0) throw fail(`status of ${subjectOf(certificate)} is unknown`);
  return { response, certificates: included };
}

/** Fetches a CRL, checks it is signed by `issuer`, current, and does not list `certificate`. */
export async function fetchCrl(
  url: string,
  certificate: Uint8Array,
  issuer: Uint8Array,
  options: RevocationOptions = {},
): Promise<Uint8Array> {
  const answer = await fetchPublicPki(url, "CRL distribution point", options);
  if (answer.status !== 200) throw revocationError(`CRL ${url}: HTTP ${answer.status}`);
  return checkCrl(answer.body, certificate, issuer, options, `CRL ${url}`);
}

/** Checks a CRL is signed by `issuer`, current, and does not list `certificate`; returns it. */
export function checkCrl(
  der: Uint8Array,
  certificate: Uint8Array,
  issuer: Uint8Array,
  options: RevocationOptions = {},
  source = "CRL",
): Uint8Array {
  const fail = (what: string) => revocationError(`${source}: ${what}`);
  let crl: pkijs.CertificateRevocationList;
  try {
    crl = pkijs.CertificateRevocationList.fromBER(der);
  } catch {
    throw fail("not a DER CRL");
  }
  if (!verifySignedStructure(der, new X509Certificate(issuer).publicKey)) {
    throw fail("not signed by the certificate's issuer");
  }
  const now = options.now ?? new Date();
  if (crl.nextUpdate && crl.nextUpdate.value.getTime() < now.getTime()) throw fail("outdated");
  const serial = certificateIdentity(certificate).serialNumber;
  const revoked = (crl.revokedCertificates ?? []).some((entry) =>
    bytesEqual(new Uint8Array(entry.userCertificate.toBER()), serial),
  );
  if (revoked) throw revocationError(`${subjectOf(certificate)} is revoked (${source})`, true);
  return der;
}

/**
 * Downloads the issuer of `certificate` from its AIA caIssuers URLs (DER or PEM) and returns it
 * only if it really issued the certificate; undefined when no URL gives one.
 */
export async function fetchIssuer(
  certificate: Uint8Array,
  options: RevocationOptions = {},
): Promise<Uint8Array | undefined> {
  const subject = new X509Certificate(certificate);
  for (const url of revocationUrls(certificate).caIssuers) {
    const answer = await fetchPublicPki(url, "CA issuers", options).catch(() => undefined);
    if (answer?.status !== 200) continue;
    try {
      const issuer = new X509Certificate(answer.body);
      if (subject.checkIssued(issuer) && subject.verify(issuer.publicKey)) return new Uint8Array(issuer.raw);
    } catch {
      // Not a certificate: try the next URL.
    }
  }
  return undefined;
}

function subjectOf(certificate: Uint8Array): string {
  return new X509Certificate(certificate).subject.replace(/\n/g, ", ");
}
