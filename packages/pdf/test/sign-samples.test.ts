import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BufferSource, openPdf, signatureFields } from "../src";
import {
  FIXTURES,
  failuresUnderRoots,
  makePki,
  SAMPLES,
  scratchDir,
  signBytes,
  type TestPki,
} from "./helpers";

const inputs = [
  ...readdirSync(SAMPLES)
    .filter((file) => file.endsWith(".pdf"))
    .map((file) => join(SAMPLES, file)),
  ...readdirSync(FIXTURES)
    .filter((file) => file.endsWith(".pdf"))
    .map((file) => join(FIXTURES, file)),
];

let pki: TestPki;
let roots: string[];
const out = scratchDir("esign-pdf-samples-");
beforeAll(async () => {
  pki = await makePki();
  roots = [pki.rootCert, join(SAMPLES, "already-signed-poppler.root.pem")];
});

describe.each(inputs)("signing %s", (path) => {
  it("produces a signature that validate.sh accepts and keeps the original bytes", async () => {
    const input = readFileSync(path);
    const signedBefore = (await signatureFields(await openPdf(new BufferSource(input)))).filter(
      (field) => field.signed,
    );
    const { signed, prepared } = await signBytes(input, pki);

    expect(signed.subarray(0, input.length).equals(input)).toBe(true);
    expect(signed.length).toBe(prepared.signedLength);
    const [, a, b, c] = prepared.byteRange;
    const covered = Buffer.concat([signed.subarray(0, a), signed.subarray(b, b + c)]);
    expect(await prepared.digest()).toEqual(createHash("sha256").update(covered).digest());
    expect(b + c).toBe(signed.length);

    const file = join(out, `${path.split("/").at(-1)}-signed.pdf`);
    writeFileSync(file, signed);
    const result = await failuresUnderRoots(file, roots);
    expect(result.failures, result.output).toEqual([]);
    expect(result.output).toContain(`${signedBefore.length + 1} signature(s)`);

    const reopened = await signatureFields(await openPdf(new BufferSource(signed)));
    expect(reopened.filter((field) => field.signed)).toHaveLength(signedBefore.length + 1);
    expect(reopened.find((field) => field.name === prepared.fieldName)?.signature?.byteRange).toEqual(
      prepared.byteRange,
    );
  });
});
