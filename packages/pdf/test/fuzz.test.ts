import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isEsignError } from "@esign/errors";
import { describe, expect, it } from "vitest";
import { BufferSource, openPdf, prepareSignature, signatureFields } from "../src";
import { FIXTURES, SAMPLES } from "./helpers";

/** Deterministic PRNG (mulberry32) so a failure reproduces from its seed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  "gs-ps2pdf.pdf",
  "pdftex-objstm.pdf",
  "pdflib-empty-sig-field.pdf",
  "qpdf-linearized-objstm.pdf",
]
  .map((file) => join(FIXTURES, file))
  .concat(join(SAMPLES, "hybrid-xref.pdf"));

/** Damages structure-bearing bytes: digits, delimiters and keywords are where parsers break. */
function mutate(input: Buffer, next: () => number): Buffer {
  const bytes = Buffer.from(input);
  const interesting = Buffer.from("0123456789<>[]()/ \nRobjxref", "latin1");
  const edits = 1 + Math.floor(next() * 8);
  for (let i = 0; i < edits; i++) {
    // Bias towards the tail, where the xref and trailer live.
    const position =
      next() < 0.6
        ? bytes.length - 1 - Math.floor(next() * Math.min(4096, bytes.length))
        : Math.floor(next() * bytes.length);
    bytes[position] = interesting[Math.floor(next() * interesting.length)]!;
  }
  return next() < 0.2 ? bytes.subarray(0, Math.floor(next() * bytes.length)) : bytes;
}

describe("mutated inputs", () => {
  it("either sign or fail with an EsignError, never crash", async () => {
    const outcomes = new Map<string, number>();
    let iteration = 0;
    for (const path of SEEDS) {
      const original = readFileSync(path);
      const next = random(0xe5197 + iteration);
      for (let round = 0; round < 60; round++, iteration++) {
        const input = mutate(original, next);
        let outcome = "prepared";
        try {
          const doc = await openPdf(new BufferSource(input));
          await signatureFields(doc);
          await prepareSignature(doc, { contentsSize: 1024 });
        } catch (error) {
          if (!isEsignError(error))
            throw new Error(`seed file ${path} round ${round}: ${String(error)}`, { cause: error });
          outcome = error.code;
        }
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    }
    expect(
      [...outcomes.keys()].every((key) =>
        ["prepared", "E_PDF_CORRUPT", "E_PDF_LIMIT", "E_NOT_PDF"].includes(key),
      ),
    ).toBe(true);
    expect(outcomes.get("prepared")).toBeGreaterThan(0);
  });
});
