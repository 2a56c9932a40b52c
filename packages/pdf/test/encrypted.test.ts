import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { inflateSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import {
  appendDss,
  BufferSource,
  isName,
  openPdf,
  type PdfDocument,
  PdfStream,
  prepareSignature,
  signatureFields,
} from "../src";
import { rc4 } from "../src/crypt/rc4";
import {
  buildPdf,
  errorCode,
  errorOf,
  FIXTURES,
  makePki,
  opensslTimestampToken,
  pemToDer,
  run,
  scratchDir,
  signBytes,
  type TestPki,
  validate,
} from "./helpers";

let pki: TestPki;
const out = scratchDir("esign-pdf-encrypted-");
beforeAll(async () => {
  pki = await makePki();
});

const USER = "user-pw";
const OWNER = "owner-pw";

/**
 * An encrypted copy of a fixture made by qpdf; `args` are encryption options (they go between
 * --encrypt's key length and `--`), `transform` other qpdf options.
 */
async function qpdfEncrypt(
  fixture: string,
  label: string,
  keyLength: 40 | 128 | 256,
  args: string[] = [],
  user = USER,
  transform: string[] = [],
): Promise<string> {
  const file = join(out, `${label}.pdf`);
  await run("qpdf", [
    "--allow-weak-crypto",
    ...transform,
    "--encrypt",
    user,
    OWNER,
    String(keyLength),
    ...args,
    "--",
    join(FIXTURES, fixture),
    file,
  ]);
  return file;
}

/** Ghostscript's pdfwrite encryption (RC4 only: R2 40-bit or R3 128-bit). */
async function gsEncrypt(fixture: string, label: string, revision: 2 | 3): Promise<string> {
  const file = join(out, `${label}.pdf`);
  await run("gs", [
    "-q",
    "-dNOPAUSE",
    "-dBATCH",
    "-sDEVICE=pdfwrite",
    `-sOwnerPassword=${OWNER}`,
    `-sUserPassword=${USER}`,
    `-dEncryptionR=${revision}`,
    `-dKeyLength=${revision === 2 ? 40 : 128}`,
    `-sOutputFile=${file}`,
    join(FIXTURES, fixture),
  ]);
  return file;
}

async function expectValid(file: string, password: string | undefined): Promise<string> {
  const result = await validate(file, pki.rootCert, { pdfPassword: password });
  expect(result.failures, result.output).toEqual([]);
  const check = await run("qpdf", ["--check", ...(password ? [`--password=${password}`] : []), file]);
  expect(check.stdout).toContain("No syntax or stream encoding errors found");
  return result.output;
}

/** qpdf's description of a file's encryption: the signed output must keep the input's. */
async function encryptionOf(file: string, password: string | undefined): Promise<string> {
  const shown = await run("qpdf", [
    "--show-encryption",
    ...(password ? [`--password=${password}`] : []),
    file,
  ]);
  return shown.stdout.replace(/^Supplied password is .*$/m, "");
}

/** The text poppler extracts from the document qpdf decrypts. */
async function decryptedText(file: string, password: string | undefined): Promise<string> {
  const plain = join(out, `${basename(file)}.decrypted.pdf`);
  await run("qpdf", ["--decrypt", ...(password ? [`--password=${password}`] : []), file, plain]);
  return (await run("pdftotext", [plain, "-"])).stdout;
}

interface Variant {
  label: string;
  make: () => Promise<string>;
  /** The password the signer is given (undefined: none, the empty user password opens it). */
  password: string | undefined;
}

const variants: Variant[] = [
  {
    label: "qpdf-rc4-40",
    make: () => qpdfEncrypt("pdflib-classic.pdf", "qpdf-rc4-40", 40),
    password: USER,
  },
  {
    label: "qpdf-rc4-128",
    make: () => qpdfEncrypt("pdftex-objstm.pdf", "qpdf-rc4-128", 128, ["--use-aes=n"]),
    password: OWNER,
  },
  {
    label: "qpdf-rc4-128-generated-object-streams",
    make: () =>
      qpdfEncrypt("pdflib-classic.pdf", "qpdf-rc4-128-objstm", 128, ["--use-aes=n"], USER, [
        "--object-streams=generate",
      ]),
    password: USER,
  },
  {
    label: "qpdf-aes-128",
    make: () => qpdfEncrypt("pdftex-objstm.pdf", "qpdf-aes-128", 128, ["--use-aes=y"]),
    password: USER,
  },
  {
    label: "qpdf-aes-128-cleartext-metadata",
    make: () =>
      qpdfEncrypt("qpdf-objstm.pdf", "qpdf-aes-128-meta", 128, ["--use-aes=y", "--cleartext-metadata"]),
    password: USER,
  },
  {
    label: "qpdf-aes-256-r6",
    make: () => qpdfEncrypt("pdftex-objstm.pdf", "qpdf-aes-256", 256),
    password: USER,
  },
  {
    label: "qpdf-aes-256-r5",
    make: () => qpdfEncrypt("qpdf-linearized-objstm.pdf", "qpdf-aes-256-r5", 256, ["--force-R5"]),
    password: OWNER,
  },
  {
    label: "qpdf-aes-256-cleartext-metadata",
    make: () => qpdfEncrypt("gs-pdfwrite.pdf", "qpdf-aes-256-meta", 256, ["--cleartext-metadata"]),
    password: USER,
  },
  {
    label: "qpdf-aes-256-empty-user-password",
    make: () => qpdfEncrypt("pdflib-form.pdf", "qpdf-aes-256-no-user", 256, [], ""),
    password: undefined,
  },
  {
    // LibreOffice's PDF export (made by fixtures/make-fixtures.sh): RC4-128, R3.
    label: "libreoffice-rc4-128",
    make: async () => join(FIXTURES, "encrypted/libreoffice-encrypted.pdf"),
    password: USER,
  },
  { label: "gs-rc4-40", make: () => gsEncrypt("gs-ps2pdf.pdf", "gs-rc4-40", 2), password: USER },
  { label: "gs-rc4-128", make: () => gsEncrypt("cairo-pdftocairo.pdf", "gs-rc4-128", 3), password: OWNER },
];

describe("signing encrypted PDFs", () => {
  it.each(variants)("$label: signs, keeps the encryption and the content, validates", async (variant) => {
    const input = await variant.make();
    const signed = join(out, `${variant.label}-signed.pdf`);
    const bytes = readFileSync(input);
    const { signed: output } = await signBytes(
      bytes,
      pki,
      { reason: "Approved", location: "Zürich" },
      { password: variant.password },
    );
    writeFileSync(signed, output);
    expect(output.subarray(0, bytes.length).equals(bytes)).toBe(true);
    await expectValid(signed, variant.password);
    expect(await encryptionOf(signed, variant.password)).toBe(await encryptionOf(input, variant.password));
    expect(await decryptedText(signed, variant.password)).toBe(await decryptedText(input, variant.password));
  });

  it("encrypts the new strings but leaves the signature's /Contents in the clear", async () => {
    const input = readFileSync(
      await qpdfEncrypt("pdftex-objstm.pdf", "clear-contents", 128, ["--use-aes=y"]),
    );
    const { signed, prepared } = await signBytes(
      input,
      pki,
      { reason: "Approved", fieldName: "Manager" },
      { password: USER },
    );
    const revision = signed.subarray(input.length).toString("latin1");
    expect(revision).not.toContain("Approved");
    expect(revision).not.toContain("Manager");
    // The gap of the ByteRange is the CMS as plain hex: what every verifier hashes around.
    const [, gapStart, gapEnd] = prepared.byteRange;
    const cmsHex = signed.subarray(gapStart + 1, gapEnd - 1).toString("latin1");
    expect(cmsHex).toMatch(/^3082[0-9a-f]+$/);
    // qpdf, decrypting independently, reads our encrypted strings back.
    const file = join(out, "clear-contents-signed.pdf");
    writeFileSync(file, signed);
    const json = JSON.parse(
      (await run("qpdf", ["--json=2", "--json-key=qpdf", `--password=${USER}`, file], { maxBuffer: 1 << 24 }))
        .stdout,
    ).qpdf[1] as Record<string, { value?: Record<string, unknown> }>;
    const signature = Object.values(json).find((object) => object.value?.["/ByteRange"])?.value;
    expect(signature?.["/Reason"]).toBe("u:Approved");
    expect(signature?.["/Contents"]).toMatch(/^b:3082/);
    const field = Object.values(json).find((object) => object.value?.["/FT"] === "/Sig")?.value;
    expect(field?.["/T"]).toBe("u:Manager");
  });

  it("signs its own encrypted output again and both signatures stay valid", async () => {
    const input = readFileSync(await qpdfEncrypt("pdftex-objstm.pdf", "twice", 256));
    const once = (await signBytes(input, pki, {}, { password: USER })).signed;
    const twice = (await signBytes(once, pki, {}, { password: OWNER })).signed;
    const file = join(out, "twice-signed.pdf");
    writeFileSync(file, twice);
    const output = await expectValid(file, USER);
    expect(output).toContain("2 signature(s)");
    const fields = await signatureFields(await openPdf(new BufferSource(twice), { password: USER }));
    expect(fields.map((field) => field.name)).toEqual(["Signature1", "Signature2"]);
  });

  it("keeps a poppler (pdfsig) signature on an encrypted file valid", async () => {
    const encrypted = await qpdfEncrypt("gs-ps2pdf.pdf", "poppler", 128, ["--use-aes=y"]);
    const nss = scratchDir("esign-pdf-nss-");
    const p12 = join(nss, "signer.p12");
    await run("openssl", [
      ..."pkcs12 -export -name signer -passout pass:pw -inkey".split(" "),
      pki.leafKey,
      "-in",
      pki.leafCert,
      "-certfile",
      pki.rootCert,
      "-out",
      p12,
    ]);
    await run("certutil", ["-N", "-d", `sql:${nss}`, "--empty-password"]);
    await run("pk12util", ["-i", p12, "-d", `sql:${nss}`, "-W", "pw"]);
    const popplerSigned = join(out, "poppler-signed.pdf");
    await run("pdfsig", [
      ..."-add-signature -nick signer -nssdir".split(" "),
      `sql:${nss}`,
      `-upw`,
      USER,
      `-opw`,
      OWNER,
      encrypted,
      popplerSigned,
    ]);
    const { signed } = await signBytes(readFileSync(popplerSigned), pki, {}, { password: USER });
    const file = join(out, "poppler-then-ours.pdf");
    writeFileSync(file, signed);
    const output = await expectValid(file, USER);
    expect(output).toMatch(/sig#1\s+pdfsig\s+PASS/);
    expect(output).toMatch(/sig#2\s+pdfsig\s+PASS/);
  });

  it("encrypts the DSS and document time-stamp revisions (B-LT, B-LTA shapes)", async () => {
    const input = readFileSync(await qpdfEncrypt("qpdf-objstm.pdf", "lta", 256));
    const { signed } = await signBytes(input, pki, {}, { password: USER });
    const certificate = pemToDer(pki.leafCert);
    const dss = await appendDss(await openPdf(new BufferSource(signed), { password: USER }), {
      certs: [certificate, pemToDer(pki.rootCert)],
      ocsps: [],
      crls: [],
    });
    const withDss = Buffer.concat([signed, dss.revision]);
    expect(Buffer.from(dss.revision).includes(certificate.subarray(0, 64))).toBe(false);
    const doc = await openPdf(new BufferSource(withDss), { password: USER });
    const prepared = await prepareSignature(doc, { contentsSize: 8192, kind: "timestamp" });
    const file = join(out, "lta-signed.pdf");
    await prepared.writeTo(prepared.embed(await opensslTimestampToken(prepared, pki)), file);

    const output = await expectValid(file, USER);
    expect(output).toMatch(/docts#\d+\s+openssl-ts-doc\s+PASS/);
    expect(output).toMatch(/pades-dss\s+INFO\s+(?!no)/);
    // The DSS certificate decrypts to the DER we gave, for us and for qpdf.
    const reopened = await openPdf(new BufferSource(readFileSync(file)), { password: OWNER });
    const stored = await firstDssCertificate(reopened);
    expect(Buffer.from(await reopened.streamBytes(stored.stream)).equals(certificate)).toBe(true);
    const viaQpdf = await run(
      "qpdf",
      [`--password=${USER}`, `--show-object=${stored.num}`, "--filtered-stream-data", file],
      { encoding: "buffer" },
    );
    expect(Buffer.from(viaQpdf.stdout).equals(certificate)).toBe(true);
  });

  it("reads the XMP metadata whether /EncryptMetadata is false or not", async () => {
    for (const cleartext of [true, false]) {
      const file = await qpdfEncrypt("gs-pdfwrite.pdf", `metadata-${cleartext}`, 128, [
        "--use-aes=y",
        ...(cleartext ? ["--cleartext-metadata"] : []),
      ]);
      const bytes = readFileSync(file);
      expect(bytes.includes("x:xmpmeta")).toBe(cleartext);
      const doc = await openPdf(new BufferSource(bytes), { password: USER });
      const metadata = await doc.resolve((await doc.catalog()).get("Metadata"));
      expect(metadata).toBeInstanceOf(PdfStream);
      const stored = await doc.streamBytes(metadata as PdfStream);
      // qpdf compresses the metadata it encrypts and leaves the cleartext one as it was.
      const compressed = isName((metadata as PdfStream).dict.get("Filter"), "FlateDecode");
      expect((compressed ? inflateSync(stored) : Buffer.from(stored)).toString("utf8")).toContain(
        "x:xmpmeta",
      );
    }
  });

  it("recovers a damaged encrypted file whose objects are in encrypted object streams", async () => {
    const original = readFileSync(await qpdfEncrypt("pdftex-objstm.pdf", "damaged", 256));
    const headerEnd = original.indexOf("\n") + 1;
    const shifted = Buffer.concat([
      original.subarray(0, headerEnd),
      Buffer.from("%every offset is now wrong\n"),
      original.subarray(headerEnd),
    ]);
    const doc = await openPdf(new BufferSource(shifted), { password: USER });
    expect(doc.recovered).toBe(true);
    expect(await doc.pageCount()).toBe(2);
    const { signed } = await signBytes(shifted, pki, {}, { password: USER });
    const file = join(out, "damaged-signed.pdf");
    writeFileSync(file, signed);
    await expectValid(file, USER);
  });
});

describe("passwords", () => {
  it("refuses a missing or wrong password with E_PASSWORD and accepts either right one", async () => {
    const bytes = readFileSync(await qpdfEncrypt("pdflib-classic.pdf", "passwords", 256));
    const missing = await errorOf(openPdf(new BufferSource(bytes)));
    expect(missing.code).toBe("E_PASSWORD");
    expect(await errorCode(openPdf(new BufferSource(bytes), { password: "guess" }))).toBe("E_PASSWORD");
    expect((await openPdf(new BufferSource(bytes), { password: USER })).encryption?.access).toBe("user");
    expect((await openPdf(new BufferSource(bytes), { password: OWNER })).encryption?.access).toBe("owner");
  });

  it("opens RC4 files with the owner password too (algorithm 7)", async () => {
    for (const keyLength of [40, 128] as const) {
      const rc4Only = keyLength === 128 ? ["--use-aes=n"] : [];
      const file = await qpdfEncrypt("pdflib-classic.pdf", `owner-${keyLength}`, keyLength, rc4Only);
      const doc = await openPdf(new BufferSource(readFileSync(file)), { password: OWNER });
      expect(doc.encryption?.access).toBe("owner");
      expect(doc.encryption?.revision).toBe(keyLength === 40 ? 2 : 3);
      expect(await doc.pageCount()).toBe(2);
    }
  });

  it("refuses the public-key and unknown security handlers with E_ENCRYPTED naming them", async () => {
    const catalog = "<< /Type /Catalog /Pages 2 0 R >>";
    const pages = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
    const page = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>";
    const id = "/ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]";
    const pubSec = buildPdf(
      [
        catalog,
        pages,
        page,
        "<< /Filter /Adobe.PubSec /SubFilter /adbe.pkcs7.s5 /V 4 /R 4 /Recipients [] >>",
      ],
      `/Encrypt 4 0 R ${id} `,
    );
    const refused = await errorOf(openPdf(new BufferSource(pubSec)));
    expect(refused.code).toBe("E_ENCRYPTED");
    expect(refused.message).toContain("/Adobe.PubSec");
    const futureRevision = buildPdf(
      [catalog, pages, page, "<< /Filter /Standard /V 6 /R 7 /O <00> /U <00> /P -4 >>"],
      `/Encrypt 4 0 R ${id} `,
    );
    const unsupported = await errorOf(openPdf(new BufferSource(futureRevision)));
    expect(unsupported.code).toBe("E_ENCRYPTED");
    expect(unsupported.message).toContain("/R 7");
    // Damaged encryption: a dangling /Encrypt, /O and /U too short to match any password.
    const dangling = buildPdf([catalog, pages, page], `/Encrypt 9 0 R ${id} `);
    expect(await errorCode(openPdf(new BufferSource(dangling)))).toBe("E_PDF_CORRUPT");
    for (const revision of ["/V 2 /R 3 /Length 128", "/V 5 /R 6"]) {
      const truncated = buildPdf(
        [catalog, pages, page, `<< /Filter /Standard ${revision} /O <00> /U <00> /P -4 >>`],
        `/Encrypt 4 0 R ${id} `,
      );
      expect(await errorCode(openPdf(new BufferSource(truncated)))).toBe("E_PASSWORD");
    }
  });
});

describe("permissions", () => {
  it("refuses a new signature field when /P clears bit 4, unless the owner password is given", async () => {
    const bytes = readFileSync(await qpdfEncrypt("pdflib-form.pdf", "no-modify", 256, ["--modify=none"]));
    const refused = await errorOf(signBytes(bytes, pki, {}, { password: USER }));
    expect(refused.code).toBe("E_PERMISSION");
    expect(refused.message).toContain("bit 4");
    const { signed } = await signBytes(bytes, pki, {}, { password: OWNER });
    const file = join(out, "no-modify-owner-signed.pdf");
    writeFileSync(file, signed);
    await expectValid(file, USER);
  });

  it("refuses LibreOffice's 'no changes' export with the user password, signs it with the owner's", async () => {
    const bytes = readFileSync(join(FIXTURES, "encrypted/libreoffice-encrypted-no-changes.pdf"));
    expect((await errorOf(signBytes(bytes, pki, {}, { password: USER }))).code).toBe("E_PERMISSION");
    const { signed } = await signBytes(bytes, pki, {}, { password: OWNER });
    const file = join(out, "libreoffice-no-changes-signed.pdf");
    writeFileSync(file, signed);
    await expectValid(file, USER);
  });

  it("fills an existing signature field with bit 9 alone, and names bit 9 when it is clear too", async () => {
    const formOnly = readFileSync(
      await qpdfEncrypt("pdflib-empty-sig-field.pdf", "form-only", 128, ["--use-aes=y", "--annotate=n"]),
    );
    const existing = (
      await signatureFields(await openPdf(new BufferSource(formOnly), { password: USER }))
    )[0]!;
    const { signed } = await signBytes(formOnly, pki, { fieldName: existing.name }, { password: USER });
    const file = join(out, "form-only-signed.pdf");
    writeFileSync(file, signed);
    await expectValid(file, USER);
    // A new field needs bit 6 as well.
    const newField = await errorOf(signBytes(formOnly, pki, { fieldName: "Other" }, { password: USER }));
    expect(newField.code).toBe("E_PERMISSION");
    expect(newField.message).toContain("bit 6");

    const locked = readFileSync(
      await qpdfEncrypt("pdflib-empty-sig-field.pdf", "locked", 128, [
        "--use-aes=y",
        "--annotate=n",
        "--form=n",
      ]),
    );
    const refused = await errorOf(signBytes(locked, pki, { fieldName: existing.name }, { password: USER }));
    expect(refused.code).toBe("E_PERMISSION");
    expect(refused.message).toContain("bit 9");
    expect(
      await errorCode(
        appendDss(await openPdf(new BufferSource(locked), { password: USER }), {
          certs: [pemToDer(pki.rootCert)],
          ocsps: [],
          crls: [],
        }),
      ),
    ).toBe("E_PERMISSION");
  });
});

it("rc4 matches the published test vector", () => {
  const out = rc4(Buffer.from("Key"), Buffer.from("Plaintext"));
  expect(Buffer.from(out).toString("hex")).toBe("bbf316e8d940af0ad3");
});

async function firstDssCertificate(doc: PdfDocument): Promise<{ stream: PdfStream; num: number }> {
  const dss = await doc.resolveDict((await doc.catalog()).get("DSS"));
  const ref = (await doc.resolveArray(dss?.get("Certs")))?.[0] as { num: number };
  const stream = await doc.resolve(ref as never);
  expect(stream).toBeInstanceOf(PdfStream);
  return { stream: stream as PdfStream, num: ref.num };
}
