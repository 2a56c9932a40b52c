import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { EsignError } from "@esign/errors";
import { certificatesFromPem } from "./keys";

/** Service statuses of ETSI TS 119 612 under which a listed service is trusted. */
const TRUSTED_STATUSES = [
  "granted",
  "recognisedatnationallevel",
  "undersupervision",
  "accredited",
  "supervisionincessation",
];
/** Service types whose certificates anchor signer chains (CA/...) and time-stamp chains (TSA/...). */
const ANCHOR_TYPES = /\/Svctype\/(CA|TSA)\//;

function elements(xml: string, name: string): string[] {
  const pattern = new RegExp(`<(?:[\\w-]+:)?${name}\\b[^>]*>([\\s\\S]*?)</(?:[\\w-]+:)?${name}>`, "g");
  return [...xml.matchAll(pattern)].map((match) => match[1]!);
}

/**
 * The certificates of an ETSI TS 119 612 trusted list whose service is a CA or TSA with a trusted
 * status (granted, accredited, under supervision...). The list's own XML signature is not checked:
 * the operator vouches for the local file, as for a PEM bundle.
 */
export function trustedListCertificates(xml: string): Uint8Array[] {
  const certificates: Uint8Array[] = [];
  for (const service of elements(xml, "TSPService")) {
    const type = elements(service, "ServiceTypeIdentifier")[0]?.trim() ?? "";
    const status = elements(service, "ServiceStatus")[0]?.trim() ?? "";
    if (!ANCHOR_TYPES.test(type) || !TRUSTED_STATUSES.some((trusted) => status.endsWith(`/${trusted}`)))
      continue;
    for (const identity of elements(service, "ServiceDigitalIdentity")) {
      for (const base64 of elements(identity, "X509Certificate")) {
        certificates.push(new Uint8Array(Buffer.from(base64.replace(/\s+/g, ""), "base64")));
      }
    }
  }
  return certificates;
}

/** One file: a PEM bundle (AATL-style exports included), a DER certificate, or a trusted list. */
async function certificatesOfFile(path: string): Promise<Uint8Array[]> {
  const bytes = await readFile(path).catch((cause: unknown) => {
    throw new EsignError("E_CONFIG", `cannot read trust store ${path}`, { cause });
  });
  const text = bytes.toString("latin1");
  if (/<(?:[\w-]+:)?TrustServiceStatusList\b/.test(text))
    return trustedListCertificates(bytes.toString("utf8"));
  if (text.includes("-----BEGIN")) return certificatesFromPem(text);
  // A lone DER certificate (.cer/.crt) starts with a SEQUENCE.
  return bytes[0] === 0x30 ? [new Uint8Array(bytes)] : [];
}

/**
 * Trust anchors from PEM bundles, DER certificates, ETSI TS 119 612 trusted lists (local XML) and
 * folders of any of these (not recursive). Throws E_CERT when a path yields no certificate, so a
 * mistyped path never silently means "trust nothing".
 */
export async function loadTrustStore(paths: string[]): Promise<Uint8Array[]> {
  const anchors: Uint8Array[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((cause: unknown) => {
      throw new EsignError("E_CONFIG", `cannot read trust store ${path}`, { cause });
    });
    const files = info.isDirectory() ? (await readdir(path)).sort().map((name) => join(path, name)) : [path];
    const found: Uint8Array[] = [];
    for (const file of files) {
      if (info.isDirectory() && !(await stat(file)).isFile()) continue;
      found.push(...(await certificatesOfFile(file)));
    }
    if (found.length === 0) throw new EsignError("E_CERT", `${path} holds no certificate`);
    anchors.push(...found);
  }
  return anchors;
}
