import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { oid, sequence, tlv } from "../src/asn1/der";
import { elementsIn, isPlainDer, wholeElement } from "../src/asn1/der-reader";
import { OID } from "../src/asn1/oids";
import { octetsOf, oidOf, parseBer } from "../src/asn1/read";
import { attributeValues, parseBerCms, parseCms, parseDerCms } from "../src/cms/parse";
import { certificateFields, x509Of } from "../src/pki/certificate";
import { buildChain } from "../src/pki/chain";
import { createTestPki, toPem } from "../src/testing";
import { messageDigestOf, readEssCertId, readEssCertIdFully } from "../src/validation/verify-cms";
import { run, scratchDirectory, signContent } from "./helpers";

const directory = await scratchDirectory();

/** What a reader made of the input, as text (bytes in hex): its result, or the error it threw. */
function outcome(read: () => unknown): string {
  try {
    return JSON.stringify(read(), (_key, value) =>
      value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value,
    );
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    return `thrown: ${code ?? ""} ${message}`;
  }
}

/** Copies of `bytes`, each with one byte changed at each position in `positions` (off by one, 0x00, 0xff). */
function* mutations(bytes: Uint8Array, positions: Iterable<number>): Generator<Uint8Array> {
  for (const position of positions) {
    for (const change of [(b: number) => b ^ 0x01, () => 0x00, () => 0xff]) {
      const mutated = bytes.slice();
      mutated[position] = change(mutated[position]!);
      if (mutated[position] !== bytes[position]) yield mutated;
    }
  }
}

/**
 * Every position of a CMS but its certificates': both parsers keep those as their encodings, and
 * the quick one does not look inside (X509Certificate and the certificate checks read them).
 */
function positionsOutsideCertificates(cms: Uint8Array): number[] {
  const certificates = parseCms(cms).certificates;
  const inside = new Set<number>();
  for (const certificate of certificates) {
    const at = Buffer.from(cms).indexOf(Buffer.from(certificate));
    for (let position = at; position < at + certificate.length; position++) inside.add(position);
  }
  return [...cms.keys()].filter((position) => !inside.has(position));
}

async function opensslCms(
  signer: Awaited<ReturnType<typeof createTestPki>>["signer"],
  extra: string[],
): Promise<Uint8Array> {
  const base = join(directory, `cms-${Math.random().toString(36).slice(2)}`);
  await writeFile(`${base}.pem`, toPem(signer.certificate));
  await writeFile(`${base}.key`, signer.privateKey.export({ type: "pkcs8", format: "pem" }));
  await writeFile(`${base}.in`, randomBytes(100));
  await run("openssl", [
    ...["cms", "-sign", "-binary", "-in", `${base}.in`, "-signer", `${base}.pem`, "-inkey", `${base}.key`],
    ...["-md", "sha256", "-outform", "DER", "-out", `${base}.p7s`, ...extra],
  ]);
  return new Uint8Array(await readFile(`${base}.p7s`));
}

describe("the DER walker reads what the full ASN.1 parser reads, the same way", async () => {
  const pki = await createTestPki({ keyType: "rsa", intermediate: true });
  const ours = signContent(pki.signer, randomBytes(64));
  // Subject key identifier as sid, no signed attributes; and OpenSSL's default attributes (signing-time).
  const keyIdentified = await opensslCms(pki.signer, ["-keyid", "-noattr"]);
  const withSigningTime = await opensslCms(pki.signer, []);

  it("reads our CMS and a subject-key-identified one without asn1js, as parseBerCms does", () => {
    for (const cms of [ours, keyIdentified]) {
      const quick = parseDerCms(cms);
      expect(quick).toBeDefined();
      expect(quick).toEqual(parseBerCms(cms));
    }
    expect(parseDerCms(keyIdentified)!.signerInfos[0]!.sid).toHaveProperty("subjectKeyIdentifier");
    // signing-time is a UTCTime, a type only the full parser reads.
    expect(parseDerCms(withSigningTime)).toBeUndefined();
    expect(parseCms(withSigningTime)).toEqual(parseBerCms(withSigningTime));
  });

  it("gives the full parser's result or error for every one-byte change outside the certificates", () => {
    let quick = 0;
    for (const cms of [ours, keyIdentified]) {
      for (const mutated of mutations(cms, positionsOutsideCertificates(cms))) {
        if (parseDerCms(mutated)) quick++;
        expect(outcome(() => parseCms(mutated))).toBe(outcome(() => parseBerCms(mutated)));
      }
    }
    expect(quick).toBeGreaterThan(100); // changes of signature, digest and serial bytes stay DER
  });

  it("reads ESSCertIDv2 and message-digest as the full parser does, changed or not", () => {
    const signed = parseCms(ours).signerInfos[0]!.signedAttributes;
    const essCertId = attributeValues(signed, OID.signingCertificateV2)![0]!;
    const messageDigest = attributeValues(signed, OID.messageDigest)![0]!;
    expect(readEssCertId(essCertId, true).certHash).toHaveLength(32);
    for (const value of [essCertId, ...mutations(essCertId, essCertId.keys())]) {
      for (const isV2 of [true, false]) {
        expect(outcome(() => readEssCertId(value, isV2))).toEqual(
          outcome(() => readEssCertIdFully(value, isV2)),
        );
      }
    }
    const fully = (value: Uint8Array) => octetsOf(parseBer(value, "message-digest", "E_VERIFY"));
    for (const value of [messageDigest, ...mutations(messageDigest, messageDigest.keys())]) {
      expect(outcome(() => messageDigestOf(value))).toBe(outcome(() => fully(value)));
    }
  });

  it("calls plain only what the full parser reads without an error", () => {
    const spki = new Uint8Array(
      x509Of(pki.signer.certificate).publicKey.export({ type: "spki", format: "der" }),
    );
    const { signedAttributesDer } = parseCms(ours).signerInfos[0]!;
    const crafted = [
      Uint8Array.of(0x03, 0x02, 0x08, 0xff), // BIT STRING, 8 unused bits
      Uint8Array.of(0x03, 0x00),
      Uint8Array.of(0x02, 0x00), // empty INTEGER
      Uint8Array.of(0x05, 0x01, 0x00), // NULL with content
      Uint8Array.of(0x06, 0x02, 0x2a, 0x86), // OID cut inside an arc
      Uint8Array.of(0x06, 0x02, 0x80, 0x01), // OID arc with a leading zero digit
      Uint8Array.of(0x01, 0x01, 0xff), // BOOLEAN
      Uint8Array.of(0x24, 0x03, 0x04, 0x01, 0x00), // constructed OCTET STRING
      Uint8Array.of(0x22, 0x03, 0x02, 0x01, 0x00), // constructed INTEGER
      Uint8Array.of(0x61, 0x00), // application class
      Uint8Array.of(0x17, 0x01, 0x41), // UTCTime
    ];
    let plain = 0;
    for (const value of [spki, signedAttributesDer!, ...crafted]) {
      for (const candidate of [value, ...mutations(value, value.keys())]) {
        const element = wholeElement(candidate);
        if (!element || !isPlainDer(candidate, element)) continue;
        plain++;
        expect(outcome(() => parseBer(candidate, "value", "E_VERIFY"))).not.toMatch(/^thrown/);
      }
    }
    expect(plain).toBeGreaterThan(1000);
  });

  it("prints object identifiers as asn1js does, and leaves unusual encodings to it", () => {
    for (const dotted of [
      "1.2.840.113549.1.9.16.2.47",
      "2.5.29.31",
      "0.9.2342.19200300.100.1.25",
      "2.999.1",
    ]) {
      const encoded = oid(dotted);
      expect(parseDerCms(encoded)).toBeUndefined();
      expect(oidOf(parseBer(encoded, "OID", "E_VERIFY"))).toBe(dotted);
    }
  });

  it("writes lengths at every size boundary the way the full parser reads them", () => {
    for (const length of [0, 1, 127, 128, 255, 256, 65535, 65536, 70000]) {
      const encoded = tlv(0x04, new Uint8Array(length).fill(7));
      const element = wholeElement(encoded)!;
      expect(element.end - element.contentStart).toBe(length);
      const content = octetsOf(parseBer(encoded, "OCTET STRING", "E_VERIFY"));
      expect(Buffer.compare(content, new Uint8Array(length).fill(7))).toBe(0);
    }
    const nested = sequence(oid(OID.data), tlv(0x04, new Uint8Array(300)));
    expect(elementsIn(nested, wholeElement(nested)!)).toHaveLength(2);
  });

  it("hands out copies of cached OID encodings", () => {
    const first = oid(OID.sha256);
    first[2] = 0;
    expect(oid(OID.sha256)).toEqual(
      Uint8Array.of(0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01),
    );
  });
});

describe("certificate caches", async () => {
  const pki = await createTestPki({ keyType: "rsa", intermediate: true });
  const certificate = pki.signer.certificate;
  const serial = certificateFields(certificate).serialNumber;

  it("do not answer for a different certificate of the same length and the same last bytes", () => {
    const at = Buffer.from(certificate).indexOf(Buffer.from(serial)) + serial.length - 1;
    const other = certificate.slice();
    other[at] ^= 0x01;
    expect(other.length).toBe(certificate.length);
    expect(certificateFields(other).serialNumber).not.toEqual(serial);
    expect(x509Of(other).serialNumber).not.toBe(x509Of(certificate).serialNumber);
    // The same array changed in place is a different certificate too.
    const changing = certificate.slice();
    expect(certificateFields(changing).serialNumber).toEqual(serial);
    changing[at] ^= 0x01;
    expect(certificateFields(changing).serialNumber).toEqual(certificateFields(other).serialNumber);
    expect(certificateFields(certificate.slice()).serialNumber).toEqual(serial);
  });

  it("give the same chain report every time, each the caller's own", () => {
    const at = new Date();
    const pool = pki.signer.chain;
    const first = buildChain(certificate, pool, [pki.root.certificate], at);
    expect(first.trusted).toBe(true);
    first.path[0]!.subject = "changed";
    const second = buildChain(certificate.slice(), pool, [pki.root.certificate], at);
    expect(second).toEqual({
      ...first,
      path: [{ ...first.path[0]!, subject: second.path[0]!.subject }, ...first.path.slice(1)],
    });
    expect(second.path[0]!.subject).not.toBe("changed");
    // Without the intermediate, the memoised answers still say no issuer was found.
    expect(buildChain(certificate, [], [pki.root.certificate], at).trusted).toBe(false);
  });
});
