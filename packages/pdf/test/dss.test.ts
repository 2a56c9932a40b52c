import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  appendDss,
  BufferSource,
  openPdf,
  type PdfDocument,
  PdfStream,
  prepareSignature,
  signatureFields,
} from "../src";
import {
  FIXTURES,
  failuresUnderRoots,
  makePki,
  opensslTimestampToken,
  pemToDer,
  run,
  scratchDir,
  signBytes,
  type TestPki,
} from "./helpers";

let pki: TestPki;
let certs: Uint8Array[];
let crl: Uint8Array;
let ocsp: Uint8Array;
const out = scratchDir("esign-pdf-dss-");

/** A real CRL (`openssl ca -gencrl`) and OCSP response (`openssl ocsp` as responder) for the leaf. */
async function revocationData(): Promise<{ crl: Uint8Array; ocsp: Uint8Array }> {
  const path = (file: string) => join(pki.dir, file);
  const serial = (await run("openssl", ["x509", "-in", pki.leafCert, "-noout", "-serial"])).stdout
    .trim()
    .split("=")[1]!;
  const subject = (
    await run("openssl", ["x509", "-in", pki.leafCert, "-noout", "-subject", "-nameopt", "compat"])
  ).stdout
    .trim()
    .replace(/^subject=\s*/, "");
  writeFileSync(path("index.txt"), `V\t351231235959Z\t\t${serial}\tunknown\t${subject}\n`);
  writeFileSync(path("crlnumber"), "01\n");
  writeFileSync(
    path("ca.cnf"),
    `[ca]\ndefault_ca=test\n[test]\ndatabase=${path("index.txt")}\ncrlnumber=${path("crlnumber")}\ndefault_md=sha256\ndefault_crl_days=7\n`,
  );
  await run("openssl", [
    "ca",
    "-config",
    path("ca.cnf"),
    "-gencrl",
    "-keyfile",
    path("root.key"),
    "-cert",
    pki.rootCert,
    "-out",
    path("crl.pem"),
  ]);
  await run("openssl", ["crl", "-in", path("crl.pem"), "-outform", "DER", "-out", path("crl.der")]);
  await run("openssl", [
    "ocsp",
    "-issuer",
    pki.rootCert,
    "-cert",
    pki.leafCert,
    "-no_nonce",
    "-reqout",
    path("req.der"),
  ]);
  await run("openssl", [
    "ocsp",
    "-index",
    path("index.txt"),
    "-rsigner",
    pki.rootCert,
    "-rkey",
    path("root.key"),
    "-CA",
    pki.rootCert,
    "-reqin",
    path("req.der"),
    "-respout",
    path("ocsp.der"),
    "-ndays",
    "1",
  ]);
  return { crl: readFileSync(path("crl.der")), ocsp: readFileSync(path("ocsp.der")) };
}

beforeAll(async () => {
  pki = await makePki();
  certs = [pemToDer(pki.leafCert), pemToDer(pki.rootCert)];
  ({ crl, ocsp } = await revocationData());
});

async function dssOf(doc: PdfDocument) {
  const dss = await doc.resolveDict((await doc.catalog()).get("DSS"));
  const list = async (key: string) => (await doc.resolveArray(dss?.get(key))) ?? [];
  const vri = await doc.resolveDict(dss?.get("VRI"));
  return { dss, certs: await list("Certs"), ocsps: await list("OCSPs"), crls: await list("CRLs"), vri };
}

describe("appendDss", () => {
  it("adds a DSS with VRI after a signature, keeps it valid, and merges a second DSS", async () => {
    const { signed } = await signBytes(readFileSync(join(FIXTURES, "pdftex-objstm.pdf")), pki);
    const doc = await openPdf(new BufferSource(signed));
    const [field] = await signatureFields(doc);
    const vriKey = createHash("sha1").update(field!.signature!.contents).digest("hex").toUpperCase();
    const time = new Date("2026-05-06T07:08:09Z");
    const first = await appendDss(doc, {
      certs,
      ocsps: [ocsp],
      crls: [crl],
      vri: { [vriKey]: { certs: [0, 1], ocsps: [0], crls: [0], time } },
    });
    const withDss = Buffer.concat([signed, first.revision]);
    expect(withDss.length).toBe(first.signedLength);
    expect(withDss.subarray(0, signed.length).equals(signed)).toBe(true);

    const file = join(out, "dss.pdf");
    writeFileSync(file, withDss);
    const result = await failuresUnderRoots(file, [pki.rootCert]);
    expect(result.failures, result.output).toEqual([]);
    expect(result.output).toMatch(/pades-dss\s+INFO\s+(?!no)/);

    const reopened = await openPdf(new BufferSource(withDss));
    const read = await dssOf(reopened);
    expect(read.certs).toHaveLength(2);
    const firstCert = await reopened.resolve(read.certs[0]);
    expect(firstCert).toBeInstanceOf(PdfStream);
    expect(
      Buffer.from(await reopened.streamBytes(firstCert as PdfStream)).equals(Buffer.from(certs[0]!)),
    ).toBe(true);
    const ocspStream = (await reopened.resolve(read.ocsps[0])) as PdfStream;
    expect(Buffer.from(await reopened.streamBytes(ocspStream)).equals(Buffer.from(ocsp))).toBe(true);
    const entry = await reopened.resolveDict(read.vri?.get(vriKey));
    expect(await reopened.resolveArray(entry?.get("Cert"))).toHaveLength(2);
    expect(await reopened.resolveArray(entry?.get("CRL"))).toHaveLength(1);

    // A second DSS revision keeps the first one's entries.
    const otherKey = "AB".repeat(20);
    const second = await appendDss(reopened, {
      certs: [certs[1]!],
      ocsps: [],
      crls: [],
      vri: { [otherKey]: { certs: [0], ocsps: [], crls: [] } },
    });
    const twice = await openPdf(new BufferSource(Buffer.concat([withDss, second.revision])));
    const merged = await dssOf(twice);
    expect(merged.certs).toHaveLength(3);
    expect(merged.ocsps).toHaveLength(1);
    expect([...(merged.vri?.entries.keys() ?? [])].sort()).toEqual([otherKey, vriKey].sort());
    const twiceFile = join(out, "dss-twice.pdf");
    writeFileSync(twiceFile, Buffer.concat([withDss, second.revision]));
    expect((await failuresUnderRoots(twiceFile, [pki.rootCert])).failures).toEqual([]);
  });

  it("adds a document time-stamp after the DSS (B-LTA shape) that openssl ts verifies", async () => {
    const { signed } = await signBytes(readFileSync(join(FIXTURES, "qpdf-objstm.pdf")), pki);
    const dss = await appendDss(await openPdf(new BufferSource(signed)), {
      certs,
      ocsps: [ocsp],
      crls: [crl],
    });
    const withDss = Buffer.concat([signed, dss.revision]);
    const doc = await openPdf(new BufferSource(withDss));
    const prepared = await prepareSignature(doc, { contentsSize: 8192, kind: "timestamp" });
    expect(prepared.fieldName).toBe("Signature2");
    const token = await opensslTimestampToken(prepared, pki);
    const file = join(out, "lta.pdf");
    await prepared.writeTo(prepared.embed(token), file);
    const result = await failuresUnderRoots(file, [pki.rootCert]);
    expect(result.failures, result.output).toEqual([]);
    expect(result.output).toMatch(/docts#\d+\s+openssl-ts-doc\s+PASS/);
    const fields = await signatureFields(await openPdf(new BufferSource(readFileSync(file))));
    expect(fields.map((field) => field.signature?.type)).toEqual(["Sig", "DocTimeStamp"]);
    expect(fields[1]?.signature?.subFilter).toBe("ETSI.RFC3161");
  });

  it("rejects VRI keys that are not SHA-1 hex and indexes that were not given", async () => {
    const doc = await openPdf(new BufferSource(readFileSync(join(FIXTURES, "gs-ps2pdf.pdf"))));
    const code = (promise: Promise<unknown>) =>
      promise.then(
        () => "ok",
        (error) => error.code,
      );
    expect(
      await code(
        appendDss(doc, { certs, ocsps: [], crls: [], vri: { nothex: { certs: [0], ocsps: [], crls: [] } } }),
      ),
    ).toBe("E_CONFIG");
    expect(
      await code(
        appendDss(doc, {
          certs,
          ocsps: [],
          crls: [],
          vri: { ["A".repeat(40)]: { certs: [5], ocsps: [], crls: [] } },
        }),
      ),
    ).toBe("E_CONFIG");
  });
});
