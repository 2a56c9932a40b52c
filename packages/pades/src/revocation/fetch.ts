import { X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import { httpCall } from "../http";
import { isIssuedBy } from "../pki/chain";
import { revocationUrls } from "./extensions";
import { ocspRequest } from "./ocsp";
import { checkCrl, checkOcspResponse, type OcspResult, type RevocationOptions } from "./policies";

/**
 * The fetching side of revocation: OCSP requests, CRL downloads and issuer certificates from the
 * URLs in certificates. Every answer passes the "must be good now" policy before it is returned.
 */

/** GET (or with an OCSP request, POST) of a public PKI resource named in a certificate. */
function fetchPublicPki(url: string, service: string, options: RevocationOptions, request?: Uint8Array) {
  return httpCall(url, {
    method: request ? "POST" : "GET",
    body: request,
    headers: request ? { "content-type": "application/ocsp-request" } : undefined,
    timeoutMs: options.timeoutMs ?? 10_000,
    unavailableCode: "E_REVOCATION",
    followRedirects: true,
    service,
  });
}

/**
 * The OCSPResponse `url` gives about `certificate`, as received and not yet judged: validation
 * (`verifyPdfSignatures` with `online`) judges it with the "report" policy, signing with
 * `fetchOcsp`.
 */
export async function downloadOcspResponse(
  url: string,
  certificate: Uint8Array,
  issuer: Uint8Array,
  options: RevocationOptions = {},
): Promise<Uint8Array> {
  const answer = await fetchPublicPki(url, "OCSP responder", options, ocspRequest(certificate, issuer));
  if (answer.status !== 200)
    throw new EsignError("E_REVOCATION", `OCSP responder ${url}: HTTP ${answer.status}`);
  return answer.body;
}

/** The CRL at `url`, as received and not yet judged. */
export async function downloadCrl(url: string, options: RevocationOptions = {}): Promise<Uint8Array> {
  const answer = await fetchPublicPki(url, "CRL distribution point", options);
  if (answer.status !== 200) throw new EsignError("E_REVOCATION", `CRL ${url}: HTTP ${answer.status}`);
  return answer.body;
}

/** Fetches the OCSP status of `certificate` from `url` and checks it says "good" now. */
export async function fetchOcsp(
  url: string,
  certificate: Uint8Array,
  issuer: Uint8Array,
  options: RevocationOptions = {},
): Promise<OcspResult> {
  const response = await downloadOcspResponse(url, certificate, issuer, options);
  return checkOcspResponse(response, certificate, issuer, options, `OCSP responder ${url}`);
}

/** Fetches a CRL and checks it is `issuer`'s, current, and does not list `certificate`. */
export async function fetchCrl(
  url: string,
  certificate: Uint8Array,
  issuer: Uint8Array,
  options: RevocationOptions = {},
): Promise<Uint8Array> {
  return checkCrl(await downloadCrl(url, options), certificate, issuer, options, `CRL ${url}`);
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
      if (isIssuedBy(subject, issuer)) return new Uint8Array(issuer.raw);
    } catch {
      // Not a certificate: try the next URL.
    }
  }
  return undefined;
}
