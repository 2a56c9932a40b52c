import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ErrorCode, isEsignError } from "@esign/errors";
import { createTestPki, toPem } from "@esign/pades/testing";
import {
  BufferSource,
  type ByteSource,
  ConcatSource,
  IncrementalUpdate,
  openPdf,
  PdfString,
  readChunks,
  signatureFields,
} from "@esign/pdf";
import { CmsBuildingSigner, LocalKeyProvider } from "@esign/signers";
import { SAMPLES_DIR, validate } from "@esign/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import {
  byteRangeCheck,
  checkSignResult,
  complete,
  type Prepared,
  PreparedSchema,
  prepare,
  preparedFor,
  prepareWithInput,
  signRequestOf,
  verifyOutput,
  verifyOutputStructure,
} from "../src";

let dir: string;
let rootPem: string;
let input: Uint8Array;
let signer: CmsBuildingSigner;
let otherSigner: CmsBuildingSigner;

async function bytesOf(output: ByteSource): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of readChunks(output)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode | unknown> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return isEsignError(error) ? error.code : error;
}

/** The message of the E_VERIFY the promise fails with (anything else fails the test). */
async function messageOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isEsignError(error) || error.code !== "E_VERIFY") throw new Error(`expected E_VERIFY, got ${error}`);
  return error.message;
}

function localSigner(identity: Awaited<ReturnType<typeof createTestPki>>["signer"]): CmsBuildingSigner {
  return new CmsBuildingSigner({
    provider: new LocalKeyProvider({
      privateKey: identity.privateKey,
      certificate: identity.certificate,
      chain: identity.chain,
      signatureAlgorithm: identity.signatureAlgorithm,
    }),
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "esign-pipeline-staged-"));
  const pki = await createTestPki();
  rootPem = join(dir, "root.pem");
  await writeFile(rootPem, toPem(pki.root.certificate));
  signer = localSigner(pki.signer);
  otherSigner = localSigner((await createTestPki()).signer);
  input = new Uint8Array(await readFile(join(SAMPLES_DIR, "pdftex-objstm-xrefstream.pdf")));
});

describe("prepare / complete / verifyOutput", () => {
  it("prepares a JSON state that another process completes into a valid signature", async () => {
    const prepared = await prepare(new BufferSource(input), signer, {
      level: "B-B",
      field: { fieldName: "Approval", reason: "staged" },
    });
    // What a worker checkpoints: plain JSON, read back through the schema.
    const stored = JSON.stringify(prepared);
    const resumed: Prepared = PreparedSchema.parse(JSON.parse(stored));
    expect(resumed).toEqual(prepared);
    expect(resumed.input.size).toBe(input.length);
    expect(resumed.fieldName).toBe("Approval");

    // Only the digest is handed to the signer.
    const request = signRequestOf(resumed);
    expect(Buffer.from(request.documentDigest).toString("hex")).toBe(prepared.digest);
    const result = await signer.sign(request);
    await checkSignResult(resumed, result, await signer.describe());

    // A fresh source over the same bytes, as a retry in another process would open it.
    const source = new BufferSource(input);
    const signed = await complete(source, resumed, result);
    expect(signed.revisions).toHaveLength(1);
    expect(signed.documentDigest).toBe(prepared.digest);
    // B-B: no "LTV enabled" judgement, no warnings.
    expect(await verifyOutput(signed.output, resumed, result)).toEqual({
      hashedLength: prepared.byteRange[1] + prepared.byteRange[3],
      warnings: [],
    });

    const file = join(dir, "staged.pdf");
    await writeFile(file, await bytesOf(signed.output));
    const verdict = await validate(file, rootPem);
    expect(verdict.failures, verdict.output).toEqual([]);
  });

  it("refuses an answer that signs another digest or comes from another certificate", async () => {
    const prepared = await prepare(new BufferSource(input), signer, { level: "B-B" });
    const otherDigest = { ...signRequestOf(prepared), documentDigest: new Uint8Array(32).fill(7) };
    const wrongDocument = await signer.sign(otherDigest);
    expect(await codeOf(checkSignResult(prepared, wrongDocument, await signer.describe()))).toBe(
      "E_SIGNATURE_MISMATCH",
    );
    const wrongKey = await otherSigner.sign(signRequestOf(prepared));
    expect(await codeOf(checkSignResult(prepared, wrongKey, await signer.describe()))).toBe(
      "E_SIGNATURE_MISMATCH",
    );
    expect(await codeOf(checkSignResult(prepared, { cms: new Uint8Array([0x30, 0x03, 1, 2]) }))).toBe(
      "E_SIGNER_BAD_RESPONSE",
    );
  });

  it("will not complete over another input, and catches an output that is not what was hashed", async () => {
    const prepared = await prepare(new BufferSource(input), signer, { level: "B-B" });
    const result = await signer.sign(signRequestOf(prepared));
    const changed = new BufferSource(Buffer.concat([input, Buffer.from("\n% appended\n")]));
    expect(preparedFor(prepared, changed)).toBe(false);
    expect(await codeOf(complete(changed, prepared, result))).toBe("E_INTERNAL");

    // The right revision, but another CMS in the output than the one checked: caught.
    const signed = await complete(new BufferSource(input), prepared, result);
    const other = await otherSigner.sign(signRequestOf(prepared));
    expect(await codeOf(verifyOutput(signed.output, prepared, other))).toBe("E_VERIFY");

    // A byte flipped inside the signed range: the output no longer hashes to the digest.
    const bytes = Buffer.from(await bytesOf(signed.output));
    bytes[100] = bytes[100]! ^ 0xff;
    expect(await codeOf(verifyOutput(new BufferSource(bytes), prepared, result))).toBe("E_VERIFY");
  });

  it("checks the bytes of an output on their way out, in chunks of any size, without a second pass", async () => {
    const prepared = await prepare(new BufferSource(input), signer, { level: "B-B" });
    const result = await signer.sign(signRequestOf(prepared));
    const signed = await complete(new BufferSource(input), prepared, result);
    await verifyOutputStructure(signed.output, prepared, result);
    const bytes = Buffer.from(await bytesOf(signed.output));
    const streamed = (output: Uint8Array, chunkSize: number) => {
      const check = byteRangeCheck(prepared);
      for (let offset = 0; offset < output.length; offset += chunkSize) {
        check.update(output.subarray(offset, offset + chunkSize));
      }
      return check;
    };
    for (const chunkSize of [1, 997, 64 * 1024, bytes.length]) {
      expect(() => streamed(bytes, chunkSize).final()).not.toThrow();
    }
    // A byte flipped in the first or in the last part of the range, or the output cut short: refused.
    const gapStart = prepared.byteRange[1];
    for (const flipped of [100, gapStart - 1, bytes.length - 2]) {
      const tampered = Buffer.from(bytes);
      tampered[flipped] = tampered[flipped]! ^ 0xff;
      expect(() => streamed(tampered, 997).final()).toThrow(expect.objectContaining({ code: "E_VERIFY" }));
    }
    expect(() => streamed(bytes.subarray(0, bytes.length - 1), 997).final()).toThrow(
      expect.objectContaining({ code: "E_VERIFY" }),
    );
    // The /Contents gap is not hashed (the structure check compares it with the CMS instead).
    const otherCms = await otherSigner.sign(signRequestOf(prepared));
    const otherSigned = await complete(new BufferSource(input), prepared, otherCms);
    expect(await codeOf(verifyOutputStructure(otherSigned.output, prepared, result))).toBe("E_VERIFY");
  });

  it("re-opens the output over the prepared input and still catches what a fresh reader would", async () => {
    const source = new BufferSource(input);
    const { prepared, input: openedInput } = await prepareWithInput(source, signer, { level: "B-B" });
    const result = await signer.sign(signRequestOf(prepared));
    const signed = await complete(source, prepared, result, { openedInput });
    const reopen = { openedInput };
    expect((await verifyOutput(signed.output, prepared, result, reopen)).hashedLength).toBe(
      prepared.byteRange[1] + prepared.byteRange[3],
    );
    const revision = Buffer.from(signed.revisions[0]!);

    // Another CMS in /Contents than the one checked.
    const other = await otherSigner.sign(signRequestOf(prepared));
    expect(await messageOf(verifyOutputStructure(signed.output, prepared, other, reopen))).toMatch(
      /\/Contents is not the CMS/,
    );

    // A /ByteRange other than the one hashed (same width, so every offset still holds).
    const byteRangeText = `[${prepared.byteRange.join(" ")}]`;
    const at = revision.indexOf(byteRangeText, 0, "latin1");
    expect(at).toBeGreaterThan(0);
    const wrongRange = Buffer.from(revision);
    const shifted = `[${[...prepared.byteRange.slice(0, 3), prepared.byteRange[3] - 1].join(" ")}]`;
    wrongRange.write(shifted.padEnd(byteRangeText.length, " "), at, "latin1");
    const wrongRangeOutput = new ConcatSource(source, wrongRange);
    expect(await messageOf(verifyOutputStructure(wrongRangeOutput, prepared, result, reopen))).toMatch(
      /\/ByteRange is not the one that was hashed/,
    );

    // A later revision that overrides our signature dictionary: the newest definition is read.
    const doc = await openPdf(signed.output);
    const sigRef = (await signatureFields(doc)).find((field) => field.name === prepared.fieldName)!.signature!
      .ref!;
    const update = new IncrementalUpdate(doc);
    const overridden = (await doc.resolveDict(sigRef))!.clone();
    overridden.set("Contents", new PdfString(new Uint8Array(prepared.contentsCapacity), true));
    update.set(sigRef, overridden);
    const overriddenOutput = new ConcatSource(signed.output, update.build().bytes);
    expect(await messageOf(verifyOutputStructure(overriddenOutput, prepared, result, reopen))).toMatch(
      /\/Contents is not the CMS/,
    );
    // The same bytes, read fresh: the same verdict.
    expect(await messageOf(verifyOutputStructure(overriddenOutput, prepared, result))).toMatch(
      /\/Contents is not the CMS/,
    );

    // Over a source with the input's bytes but not the one prepared (a retry): read in full, passes.
    const copy = new BufferSource(input);
    const signedCopy = await complete(copy, prepared, result, { openedInput });
    await verifyOutput(signedCopy.output, prepared, result, reopen);
  });
});
