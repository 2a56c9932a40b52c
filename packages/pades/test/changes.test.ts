import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { findText } from "@esign/appearance";
import {
  appendDss,
  asInteger,
  BufferSource,
  formFields,
  hashByteRange,
  IncrementalUpdate,
  name,
  openPdf,
  PdfDict,
  type PdfDocument,
  PdfRef,
  PdfStream,
  PdfString,
  prepareSignature,
} from "@esign/pdf";
import { SAMPLES_DIR } from "@esign/testkit";
import { describe, expect, it } from "vitest";
import { etsiValidationReportXml, type PdfSignatureReport, verifyPdfSignatures } from "../src";
import { issueCertificate, type TestIdentity } from "../src/testing";
import { run, scratchDirectory, signDigest } from "./helpers";

/**
 * Change analysis judged on files whose later revisions other tools wrote: MuPDF (`mutool run`,
 * incremental save), qpdf (the object-stream base), our own writer, and hand-made updates where no
 * tool writes the attack. pdf-lib is not used: its save rewrites the whole file (no incremental mode).
 */
const directory = await scratchDirectory();
const root = await issueCertificate({ subject: "CN=change analysis root,O=esign-agent tests", ca: true });
const signer = await issueCertificate({
  subject: "CN=Change Analysis Signer,O=esign-agent tests",
  issuer: root,
});
const MUTOOL_EDIT = join(import.meta.dirname, "fixtures", "mutool-edit.js");
const FORM = join(SAMPLES_DIR, "libreoffice-acroform-fields.pdf");
/** The form sample rewritten by qpdf with object and xref streams, so swaps inside object streams are possible. */
const FORM_OBJSTM = join(directory, "form-objstm.pdf");
await run("qpdf", ["--object-streams=generate", FORM, FORM_OBJSTM]);

type Policy = "P=1" | "P=2" | "P=3" | "approval";
const POLICIES: Policy[] = ["P=1", "P=2", "P=3", "approval"];
const certifyOf = (policy: Policy) => (policy === "approval" ? undefined : (Number(policy[2]) as 1 | 2 | 3));

async function sign(
  input: Buffer,
  {
    identity = signer,
    ...options
  }: { certify?: 1 | 2 | 3; fieldName?: string; identity?: TestIdentity } = {},
): Promise<Buffer> {
  const prepared = await prepareSignature(await openPdf(new BufferSource(input)), {
    contentsSize: 8000,
    signingTime: new Date(),
    ...options,
  });
  const cms = signDigest(identity, new Uint8Array(await prepared.digest("sha256")));
  return Buffer.concat([input, prepared.embed(cms)]);
}

/**
 * A second signature on a document certified with P=1, which our writer rightly refuses: the
 * revision is prepared on a copy that claims P=2 (same length), then signed over the real bytes.
 */
async function signDespiteP1(input: Buffer): Promise<Buffer> {
  const text = input.toString("latin1");
  const at = text.lastIndexOf("/P 1");
  const claimsP2 = Buffer.from(input);
  claimsP2.write("/P 2", at, "latin1");
  const prepared = await prepareSignature(await openPdf(new BufferSource(claimsP2)), {
    contentsSize: 8000,
    signingTime: new Date(),
    fieldName: "Second",
  });
  const unsigned = Buffer.concat([input, prepared.revision]);
  const digest = await hashByteRange(new BufferSource(unsigned), prepared.byteRange, "sha256");
  return Buffer.concat([input, prepared.embed(signDigest(signer, new Uint8Array(digest)))]);
}

async function withMutool(
  input: Buffer,
  mode: "fill" | "annot" | "content" | "cover",
  ...args: number[]
): Promise<Buffer> {
  const before = join(directory, `mutool-in-${mode}.pdf`);
  const after = join(directory, `mutool-out-${mode}.pdf`);
  await writeFile(before, input);
  await run("mutool", ["run", MUTOOL_EDIT, before, after, mode, ...args.map(String)]);
  const edited = await readFile(after);
  expect(edited.subarray(0, input.length).equals(input), "mutool must save incrementally").toBe(true);
  return edited;
}

async function handMade(input: Buffer, edit: (update: IncrementalUpdate, doc: PdfDocument) => Promise<void>) {
  const doc = await openPdf(new BufferSource(input));
  const update = new IncrementalUpdate(doc);
  await edit(update, doc);
  return Buffer.concat([input, update.build().bytes]);
}

const contentStream = (text: string) => new PdfStream(new PdfDict(), undefined, Buffer.from(text, "latin1"));

async function firstPage(doc: PdfDocument) {
  const page = await doc.page(1);
  if (!page) throw new Error("no page 1");
  return page;
}

/** A form field whose merged widget is `field` (given /Type, /Subtype and /P here) added on page 1. */
async function withNewField(input: Buffer, field: PdfDict): Promise<Buffer> {
  return handMade(input, async (update, doc) => {
    const page = await firstPage(doc);
    const ref = update.add(
      field.set("Type", name("Annot")).set("Subtype", name("Widget")).set("P", page.ref),
    );
    await update.appendToArray(page.ref, "Annots", [ref]);
    const formValue = (await doc.catalog()).get("AcroForm");
    if (formValue instanceof PdfRef) {
      await update.appendToArray(formValue, "Fields", [ref]);
    } else {
      // The sample's /AcroForm is direct in the catalog: the catalog gets the new version.
      const form = ((await doc.resolveDict(formValue)) ?? new PdfDict()).clone();
      await update.appendToArray(form, "Fields", [ref]);
      (await update.editDict(doc.catalogRef)).set("AcroForm", form);
    }
  });
}

type Modification = (signed: Buffer, policy: Policy) => Promise<Buffer>;

/** Rewrites the object stream holding a font so the font changes while its xref entry does not. */
const swapInObjectStream: Modification = (signed) =>
  handMade(signed, async (update, doc) => {
    for (const { num, entry } of doc.liveObjectEntries()) {
      if (!entry || !("streamNum" in entry)) continue;
      const member = await doc.getObject(num);
      if (!(member instanceof PdfDict) || !(member.get("Type") === name("Font"))) continue;
      const stream = (await doc.getObject(entry.streamNum)) as PdfStream;
      // streamBytes gives the stored bytes; qpdf compresses its object streams.
      const data = inflateSync(await doc.streamBytes(stream));
      const first = asInteger(stream.dict.get("First"))!;
      const pairs = data.subarray(0, first).toString("latin1").trim().split(/\s+/).map(Number);
      const bodies: Array<[number, string]> = [];
      for (let i = 0; i < pairs.length; i += 2) {
        const end = i + 3 < pairs.length ? pairs[i + 3]! : data.length - first;
        let body = data.subarray(first + pairs[i + 1]!, first + end).toString("latin1");
        if (pairs[i] === num) body = body.replace(/>>\s*$/, "/FirstChar 65 >>\n");
        bodies.push([pairs[i]!, body]);
      }
      let offset = 0;
      const header = bodies.map(([memberNum, body]) => {
        const pair = `${memberNum} ${offset}`;
        offset += body.length;
        return pair;
      });
      const headerText = `${header.join(" ")}\n`;
      const dict = new PdfDict()
        .set("Type", name("ObjStm"))
        .set("N", bodies.length)
        .set("First", headerText.length);
      const bytes = Buffer.from(headerText + bodies.map(([, body]) => body).join(""), "latin1");
      update.set(new PdfRef(entry.streamNum, 0), new PdfStream(dict, undefined, bytes));
      return;
    }
    throw new Error("no font inside an object stream");
  });

const MODIFICATIONS: Record<string, Modification> = {
  "fill a form field (mutool)": (signed) => withMutool(signed, "fill"),
  "add an annotation (mutool)": (signed) => withMutool(signed, "annot"),
  "change page content (mutool)": (signed) => withMutool(signed, "content"),
  "add a signature (our writer)": (signed, policy) =>
    policy === "P=1" ? signDespiteP1(signed) : sign(signed, { fieldName: "Second" }),
  "add a DSS (our writer)": async (signed) => {
    const dss = await appendDss(await openPdf(new BufferSource(signed)), {
      certs: [signer.certificate, root.certificate],
      ocsps: [],
      crls: [],
    });
    return Buffer.concat([signed, dss.revision]);
  },
  "replace a page's content stream in place (hand-made)": (signed) =>
    handMade(signed, async (update, doc) => {
      const page = await firstPage(doc);
      const contents = page.dict.get("Contents");
      const ref = Array.isArray(contents) ? contents[0] : contents;
      if (!(ref instanceof PdfRef)) throw new Error("page content is not a reference");
      update.set(ref, contentStream("BT /F1 24 Tf 72 720 Td (Pay 1,000,000 EUR) Tj ET"));
    }),
  "add an overlay XObject (hand-made)": (signed) =>
    handMade(signed, async (update, doc) => {
      const page = await firstPage(doc);
      const overlay = update.add(
        new PdfStream(
          new PdfDict()
            .set("Type", name("XObject"))
            .set("Subtype", name("Form"))
            .set("BBox", [0, 0, 600, 800]),
          undefined,
          Buffer.from("1 1 1 rg 0 0 600 800 re f", "latin1"),
        ),
      );
      const drawIt = update.add(contentStream("q /Overlay Do Q"));
      const pageDict = await update.editDict(page.ref);
      const resources = ((await doc.resolveDict(page.resources)) ?? new PdfDict()).clone();
      const xobjects = ((await doc.resolveDict(resources.get("XObject"))) ?? new PdfDict()).clone();
      resources.set("XObject", xobjects.set("Overlay", overlay));
      const contents = pageDict.get("Contents");
      pageDict
        .set("Resources", resources)
        .set("Contents", [...(Array.isArray(contents) ? contents : [contents ?? null]), drawIt]);
    }),
  "swap an object inside an object stream (hand-made)": swapInObjectStream,
};

type Verdict = "allowed" | "disallowed";
const a: Verdict = "allowed";
const d: Verdict = "disallowed";
/** Expected verdicts, columns P=1, P=2, P=3, approval (ISO 32000-2 12.8.2.2, 12.8.2.4; Acrobat for approval). */
const EXPECTED: Record<string, [Verdict, Verdict, Verdict, Verdict]> = {
  "fill a form field (mutool)": [d, a, a, a],
  "add an annotation (mutool)": [d, d, a, a],
  "change page content (mutool)": [d, d, d, d],
  "add a signature (our writer)": [d, a, a, a],
  "add a DSS (our writer)": [a, a, a, a],
  "replace a page's content stream in place (hand-made)": [d, d, d, d],
  "add an overlay XObject (hand-made)": [d, d, d, d],
  "swap an object inside an object stream (hand-made)": [d, d, d, d],
};

const signedBases = new Map<Policy, Buffer>();
async function signedBase(policy: Policy): Promise<Buffer> {
  let base = signedBases.get(policy);
  if (!base) {
    base = await sign(await readFile(FORM_OBJSTM), { certify: certifyOf(policy) });
    signedBases.set(policy, base);
  }
  return base;
}

async function firstSignature(file: Buffer): Promise<PdfSignatureReport> {
  const report = await verifyPdfSignatures(new BufferSource(file), { trustRoots: [root.certificate] });
  const first = report.signatures[0];
  if (!first) throw new Error("no signature");
  return first;
}

describe("change analysis: each later revision judged under DocMDP P=1/2/3 and approval rules", () => {
  it("reports no modifications for the signed file itself", async () => {
    const signature = await firstSignature(await signedBase("P=2"));
    expect(signature).toMatchObject({ modifications: "none", changes: [], indication: "TOTAL-PASSED" });
  });

  for (const [what, modify] of Object.entries(MODIFICATIONS)) {
    POLICIES.forEach((policy, column) => {
      const expected = EXPECTED[what]![column]!;
      it(`${what} under ${policy}: ${expected}`, async () => {
        const edited = await modify(await signedBase(policy), policy);
        const signature = await firstSignature(edited);
        const summary = signature.changes
          .map((c) => `${c.object} ${c.kind} ${c.allowed}: ${c.why}`)
          .join("\n");
        expect(signature.valid).toBe(true);
        expect(signature.modifications, summary).toBe(expected);
        expect(signature.indication, summary).toBe(expected === "allowed" ? "TOTAL-PASSED" : "TOTAL-FAILED");
        if (expected === "disallowed") expect(signature.subIndication).toBe("FORMAT_FAILURE");
      });
    });
  }

  it("names the object swapped inside an object stream and says how", async () => {
    const signature = await firstSignature(await swapInObjectStream(await signedBase("P=2"), "P=2"));
    const swapped = signature.changes.filter((change) => !change.allowed);
    expect(swapped).toHaveLength(1);
    expect(swapped[0]).toMatchObject({ kind: "page-resources" });
    expect(swapped[0]!.why).toContain("object stream");
  });
});

/**
 * Shadow attacks (Mainberger et al., "Shadow attacks", NDSS 2021): the attacker prepares the
 * document before it is signed so that a later, seemingly harmless revision changes what it shows.
 * Each is built by hand on the classic-xref form sample and signed with P=2 (form filling allowed).
 */
describe("shadow attacks are caught", () => {
  async function pageContentRef(doc: PdfDocument): Promise<PdfRef> {
    const contents = (await firstPage(doc)).dict.get("Contents");
    const ref = Array.isArray(contents) ? contents[0] : contents;
    if (!(ref instanceof PdfRef)) throw new Error("page content is not a reference");
    return ref;
  }

  /** Appends a revision that is only a classic xref section with one `row` for object `num`. */
  async function withXrefOnlyRevision(signed: Buffer, num: number, row: string): Promise<Buffer> {
    const doc = await openPdf(new BufferSource(signed));
    const section =
      `xref\n${num} 1\n${row} \ntrailer\n<< /Size ${doc.nextObjectNumber} /Root ${doc.catalogRef.key} R` +
      ` /Prev ${doc.startxref} >>\nstartxref\n${signed.length}\n%%EOF\n`;
    return Buffer.concat([signed, Buffer.from(section, "latin1")]);
  }

  it('"hide": an xref-only revision frees the overlay that covered part of the page', async () => {
    let overlay: PdfRef | undefined;
    let leftover: PdfRef | undefined;
    const covered = await handMade(await readFile(FORM), async (update, doc) => {
      overlay = update.add(contentStream("q 1 1 1 rg 0 0 600 400 re f Q"));
      leftover = update.add(contentStream("BT (never shown) Tj ET"));
      const page = await update.editDict((await firstPage(doc)).ref);
      const contents = page.get("Contents");
      page.set("Contents", [...(Array.isArray(contents) ? contents : [contents ?? null]), overlay]);
    });
    const signed = await sign(covered, { certify: 2 });
    // Freeing an object nothing referred to changes nothing shown.
    const tidied = await firstSignature(
      await withXrefOnlyRevision(signed, leftover!.num, "0000000000 00001 f"),
    );
    expect(tidied.modifications).toBe("allowed");
    expect(tidied.changes).toEqual([expect.objectContaining({ kind: "unreferenced", allowed: true })]);
    // A viewer reads a freed object as null: the white box is gone and what it covered shows.
    const attacked = await withXrefOnlyRevision(signed, overlay!.num, "0000000000 00001 f");
    const signature = await firstSignature(attacked);
    expect(signature.modifications).toBe("disallowed");
    expect(signature.changes).toContainEqual(
      expect.objectContaining({ object: `${overlay!.num} 0`, kind: "page-content", allowed: false }),
    );
    expect(signature.indication).toBe("TOTAL-FAILED");
  });

  it('"hide": an xref-only revision points the page content back at older bytes', async () => {
    const original = await readFile(FORM);
    const originalDoc = await openPdf(new BufferSource(original));
    const content = await pageContentRef(originalDoc);
    const entry = originalDoc.liveObjectEntries().find(({ num }) => num === content.num)!.entry!;
    if (!("offset" in entry)) throw new Error("expected an in-file content stream");
    // Before signing: the content is redefined with a white box that hides part of the page.
    const covered = await handMade(original, async (update) => {
      update.set(content, contentStream("q 1 1 1 rg 0 0 600 400 re f Q"));
    });
    const signed = await sign(covered, { certify: 2 });
    // After signing: no new object at all, only an xref section sending the content to its first definition.
    const attacked = await withXrefOnlyRevision(
      signed,
      content.num,
      `${String(entry.offset).padStart(10, "0")} 00000 n`,
    );

    const signature = await firstSignature(attacked);
    expect(signature.modifications).toBe("disallowed");
    expect(signature.changes).toContainEqual(
      expect.objectContaining({ object: `${content.num} 0`, kind: "xref-redirect", allowed: false }),
    );
    expect(signature.indication).toBe("TOTAL-FAILED");
  });

  it('"hide": an xref stream points the page back into the object stream that held its older version', async () => {
    const original = await readFile(FORM_OBJSTM);
    const originalDoc = await openPdf(new BufferSource(original));
    const page = (await firstPage(originalDoc)).ref;
    const older = originalDoc.liveObjectEntries().find(({ num }) => num === page.num)!.entry!;
    if (!("streamNum" in older)) throw new Error("expected the page inside an object stream");
    // Before signing: the page gets a white box over part of it, as a plain object of its own.
    const covered = await handMade(original, async (update) => {
      const overlay = update.add(contentStream("q 1 1 1 rg 0 0 600 400 re f Q"));
      const pageDict = await update.editDict(page);
      const contents = pageDict.get("Contents");
      pageDict.set("Contents", [...(Array.isArray(contents) ? contents : [contents ?? null]), overlay]);
    });
    const signed = await sign(covered, { certify: 2 });
    // After signing: only an xref stream, sending the page back to its uncovered version.
    const doc = await openPdf(new BufferSource(signed));
    const self = doc.nextObjectNumber;
    const entries = Buffer.alloc(14);
    entries.writeUInt8(2, 0);
    entries.writeUInt32BE(older.streamNum, 1);
    entries.writeUInt16BE(older.index, 5);
    entries.writeUInt8(1, 7);
    entries.writeUInt32BE(signed.length, 8);
    const xrefStream = Buffer.concat([
      Buffer.from(
        `${self} 0 obj\n<< /Type /XRef /Size ${self + 1} /W [1 4 2] /Index [${page.num} 1 ${self} 1]` +
          ` /Root ${doc.catalogRef.key} R /Prev ${doc.startxref} /Length ${entries.length} >>\nstream\n`,
        "latin1",
      ),
      entries,
      Buffer.from(`\nendstream\nendobj\nstartxref\n${signed.length}\n%%EOF\n`, "latin1"),
    ]);
    const attacked = Buffer.concat([signed, xrefStream]);

    const signature = await firstSignature(attacked);
    expect(signature.modifications).toBe("disallowed");
    const redirect = signature.changes.find((change) => change.object === `${page.num} 0`);
    expect(redirect).toMatchObject({ kind: "xref-redirect", allowed: false });
    expect(redirect!.why).toContain(`object stream ${older.streamNum}`);
  });

  it('"replace": a field hidden when signed is revealed and filled', async () => {
    const original = await readFile(FORM);
    const originalDoc = await openPdf(new BufferSource(original));
    const [text] = (await formFields(originalDoc)).filter((field) => field.type === "Tx");
    const field = text?.ref;
    if (!field) throw new Error("no indirect text field");
    const hidden = await handMade(original, async (update) => {
      (await update.editDict(field)).set("F", 2);
    });
    const signed = await sign(hidden, { certify: 2 });
    const attacked = await handMade(signed, async (update) => {
      (await update.editDict(field)).set("F", 4);
    });
    const signature = await firstSignature(attacked);
    expect(signature.modifications).toBe("disallowed");
    const change = signature.changes.find((c) => c.object === `${field.num} 0`);
    expect(change).toMatchObject({ kind: "form-field", allowed: false });
    expect(change!.why).toContain("/F");
  });

  it('"hide-and-replace": the page is pointed at content that was signed but not shown', async () => {
    const original = await readFile(FORM);
    let hiddenContent: PdfRef | undefined;
    const prepared = await handMade(original, async (update) => {
      hiddenContent = update.add(contentStream("BT /F1 24 Tf 72 720 Td (Pay 1,000,000 EUR) Tj ET"));
    });
    const signed = await sign(prepared, { certify: 2 });
    // An object nobody refers to is not shown: adding one later is harmless, and so reported.
    const harmless = await handMade(signed, async (update) => {
      update.add(contentStream("BT (never shown) Tj ET"));
    });
    const unseen = await firstSignature(harmless);
    expect(unseen.modifications).toBe("allowed");
    expect(unseen.changes).toEqual([expect.objectContaining({ kind: "unreferenced", allowed: true })]);

    const attacked = await handMade(signed, async (update, doc) => {
      (await update.editDict((await firstPage(doc)).ref)).set("Contents", hiddenContent!);
    });
    const signature = await firstSignature(attacked);
    expect(signature.modifications).toBe("disallowed");
    expect(signature.changes).toContainEqual(expect.objectContaining({ kind: "page", allowed: false }));
  });

  it("an object the signed revision referred to but did not define cannot be filled in later", async () => {
    const original = await readFile(FORM);
    const originalDoc = await openPdf(new BufferSource(original));
    const missing = new PdfRef(originalDoc.nextObjectNumber + 50, 0);
    const prepared = await handMade(original, async (update, doc) => {
      const page = await update.editDict((await firstPage(doc)).ref);
      const contents = page.get("Contents");
      page.set("Contents", [...(Array.isArray(contents) ? contents : [contents ?? null]), missing]);
    });
    const signed = await sign(prepared, { certify: 2 });
    const attacked = await handMade(signed, async (update) => {
      update.set(missing, contentStream("BT /F1 24 Tf 72 720 Td (Pay 1,000,000 EUR) Tj ET"));
    });
    const signature = await firstSignature(attacked);
    expect(signature.modifications).toBe("disallowed");
    expect(signature.changes).toContainEqual(
      expect.objectContaining({ object: `${missing.num} 0`, kind: "dangling-reference", allowed: false }),
    );
  });
});

/**
 * Shadow "hide" by overlay: P=3 and approval signatures allow annotations and form filling, but
 * not drawing over what was signed. The title of the form sample is the signed text covered.
 */
describe("overlays drawn over signed text after signing", async () => {
  const form = await readFile(FORM);
  const title = await findText(new BufferSource(form), "Consent form", 1);
  if (!title) throw new Error("the form sample's title was not found");
  const [x0, y0, x1, y1] = title.box;
  const overTitle = [x0 - 2, y0 - 2, x1 + 2, y1 + 2];
  const pageHeight = ((await firstPage(await openPdf(new BufferSource(form)))).mediaBox as number[])[3]!;
  /** MuPDF places annotations in its page space, whose y axis points down. */
  const mutoolCover = (signed: Buffer, [left, bottom, right, top]: number[]) =>
    withMutool(signed, "cover", left!, pageHeight - top!, right!, pageHeight - bottom!);

  for (const policy of ["P=3", "approval"] as const) {
    it(`a white square annotation (mutool) over the signed title under ${policy}: disallowed, naming the text`, async () => {
      const signed = await sign(form, { certify: certifyOf(policy) });
      const signature = await firstSignature(await mutoolCover(signed, overTitle));
      expect(signature.modifications).toBe("disallowed");
      // The annotation and its appearance stream, each named.
      const covering = signature.changes.filter((change) => !change.allowed);
      expect(covering.map((change) => change.kind)).toEqual(["annotation", "appearance"]);
      for (const change of covering)
        expect(change.why).toContain(
          'drawn over signed text on page 1 ("Consent form"): shadow attack "hide" by overlay',
        );
      expect(signature.indication).toBe("TOTAL-FAILED");

      // The same annotation where the page shows no text is an allowed comment.
      const elsewhere = await firstSignature(await mutoolCover(signed, [420, 20, 560, 60]));
      expect(elsewhere.modifications).toBe("allowed");
      expect(elsewhere.changes).toContainEqual(
        expect.objectContaining({ kind: "annotation", allowed: true }),
      );
    });
  }

  it("an annotation that already covered the title when signed may still be edited under P=3", async () => {
    const covered = await mutoolCover(form, overTitle);
    const signed = await sign(covered, { certify: 3 });
    const edited = await handMade(signed, async (update, doc) => {
      const annots = (await doc.resolveArray((await firstPage(doc)).dict.get("Annots"))) ?? [];
      let square: PdfRef | undefined;
      for (const annot of annots) {
        const dict = await doc.resolveDict(annot);
        if (annot instanceof PdfRef && dict?.get("Subtype") === name("Square")) square = annot;
      }
      if (!square) throw new Error("no square annotation");
      (await update.editDict(square)).set("Contents", new PdfString(Buffer.from("a reply")));
    });
    const signature = await firstSignature(edited);
    expect(signature.changes).toEqual([expect.objectContaining({ kind: "annotation", allowed: true })]);
    expect(signature.modifications).toBe("allowed");
  });

  it("a highlight over the signed title stays allowed (text markup is meant to lie over text)", async () => {
    const signed = await sign(form, { certify: 3 });
    const highlighted = await handMade(signed, async (update, doc) => {
      const page = await firstPage(doc);
      const look = update.add(
        new PdfStream(
          new PdfDict().set("Type", name("XObject")).set("Subtype", name("Form")).set("BBox", overTitle),
          undefined,
          Buffer.from(
            `1 1 0 rg ${overTitle.slice(0, 2).join(" ")} ${x1 - x0 + 4} ${y1 - y0 + 4} re f`,
            "latin1",
          ),
        ),
      );
      const highlight = update.add(
        new PdfDict()
          .set("Type", name("Annot"))
          .set("Subtype", name("Highlight"))
          .set("Rect", overTitle)
          .set("QuadPoints", [x0, y1, x1, y1, x0, y0, x1, y0])
          .set("F", 4)
          .set("P", page.ref)
          .set("AP", new PdfDict().set("N", look)),
      );
      await update.appendToArray(page.ref, "Annots", [highlight]);
    });
    const signature = await firstSignature(highlighted);
    expect(signature.modifications).toBe("allowed");
  });

  it('"replace via overlay": a field prepared over the title, filled after signing under P=2, is disallowed', async () => {
    const prepared = await withNewField(
      form,
      new PdfDict()
        .set("FT", name("Tx"))
        .set("T", new PdfString(Buffer.from("Overlay")))
        .set("Rect", overTitle)
        .set("F", 4),
    );
    const signed = await sign(prepared, { certify: 2 });
    const field = (await formFields(await openPdf(new BufferSource(signed)))).find(
      (candidate) => candidate.name === "Overlay",
    )!.ref!;
    const fill = (text: string, box: number[]) =>
      handMade(signed, async (update) => {
        const [left, bottom, right, top] = box as [number, number, number, number];
        const look = update.add(
          new PdfStream(
            new PdfDict()
              .set("Type", name("XObject"))
              .set("Subtype", name("Form"))
              .set("BBox", [0, 0, right - left, top - bottom]),
            undefined,
            Buffer.from(
              `1 1 1 rg 0 0 ${right - left} ${top - bottom} re f 0 g BT /Helv 18 Tf 2 6 Td (${text}) Tj ET`,
              "latin1",
            ),
          ),
        );
        (await update.editDict(field))
          .set("V", new PdfString(Buffer.from(text)))
          .set("AP", new PdfDict().set("N", look))
          .set("Rect", box);
      });
    const attacked = await firstSignature(await fill("Agreement void", overTitle));
    expect(attacked.modifications).toBe("disallowed");
    expect(attacked.changes.filter((change) => !change.allowed)).toEqual([
      expect.objectContaining({
        kind: "appearance",
        why: expect.stringContaining(
          'appearance added for field Overlay, but it is drawn over signed text on page 1 ("Consent form")',
        ),
      }),
    ]);
  });
});

describe("ETSI TS 119 102-2 XML report", () => {
  const XSD_DIR = join(import.meta.dirname, "fixtures", "etsi-xsd");

  async function validateAgainstXsd(xml: string, name: string): Promise<string> {
    const path = join(directory, name);
    await writeFile(path, xml);
    const { stderr } = await run(
      "xmllint",
      ["--nonet", "--noout", "--schema", join(XSD_DIR, "1910202xmlSchema.xsd"), path],
      { env: { ...process.env, XML_CATALOG_FILES: join(XSD_DIR, "catalog.xml") } },
    );
    return stderr;
  }

  it("validates against the ETSI schema, for a passing and a failing signature", async () => {
    const passing = await verifyPdfSignatures(new BufferSource(await signedBase("P=2")), {
      trustRoots: [root.certificate],
    });
    const passingXml = etsiValidationReportXml(passing);
    expect(await validateAgainstXsd(passingXml, "passing.xml")).toContain("validates");
    expect(passingXml).toContain("urn:etsi:019102:mainindication:total-passed");

    const changed = await MODIFICATIONS["change page content (mutool)"]!(await signedBase("P=2"), "P=2");
    const failing = await verifyPdfSignatures(new BufferSource(changed), { trustRoots: [root.certificate] });
    const failingXml = etsiValidationReportXml(failing);
    expect(await validateAgainstXsd(failingXml, "failing.xml")).toContain("validates");
    expect(failingXml).toContain("urn:etsi:019102:mainindication:total-failed");
    expect(failingXml).toContain("urn:etsi:019102:subindication:FORMAT_FAILURE");
    expect(failingXml).toContain("urn:esign-agent:validation:disallowed-change");
  });

  /** The text of the nodes `path` selects (steps by local name, so no namespace set-up), one per line. */
  async function select(file: string, path: string): Promise<string[]> {
    const steps = path
      .split("/")
      .map((step) => {
        const [name, predicate] = step.split("?");
        if (name!.startsWith("@")) return name;
        return `*[local-name()='${name}']${predicate ? `[*[local-name()='Type']='${predicate}']` : ""}`;
      })
      .join("/");
    const { stdout } = await run("xmllint", ["--xpath", `//${steps}`, file]);
    return stdout
      .split(/<\/?vr:Value>|\n/)
      .map((line) => line.trim())
      .filter((line) => line !== "");
  }

  it("carries the change analysis, findings and LTV gaps in the status's associated report data", async () => {
    const unchecked = await issueCertificate({
      subject: "CN=Report Signer,O=esign-agent tests",
      issuer: root,
      ocspUrl: "http://127.0.0.1:9/",
    });
    const signed = await sign(await readFile(FORM_OBJSTM), { certify: 2, identity: unchecked });
    const changed = await MODIFICATIONS["change page content (mutool)"]!(signed, "P=2");
    const report = await verifyPdfSignatures(new BufferSource(changed), { trustRoots: [root.certificate] });
    const signature = report.signatures[0]!;
    expect(signature.findings).toContainEqual(expect.objectContaining({ subIndication: "TRY_LATER" }));
    const xml = etsiValidationReportXml(report);
    expect(await validateAgainstXsd(xml, "findings.xml")).toContain("validates");
    const file = join(directory, "findings.xml");
    const data = "SignatureValidationStatus/AssociatedValidationReportData/AdditionalValidationReportData";
    const values = (type: string) =>
      select(file, `${data}/ReportData?urn:esign-agent:validation:${type}/Value`);

    const disallowed = signature.changes.filter((change) => !change.allowed);
    expect(disallowed.length).toBeGreaterThan(0);
    expect(await values("disallowed-change")).toEqual(
      disallowed.map((change) => `object ${change.object} (${change.kind}): ${change.why}`),
    );
    expect(await values("finding")).toEqual(
      signature.findings.map((finding) => `${finding.subIndication}: ${finding.reason}`),
    );
    expect((await values("finding"))[0]).toContain("TRY_LATER: signer certificate CN=Report Signer");
    expect(await values("ltv-enabled")).toEqual(["false"]);
    expect(await values("ltv-gap")).toContainEqual(expect.stringMatching(/^CN=Report Signer.* lacks /));

    // The signer certificate is a validation object, referred to by the signer information and the chain.
    const [objectId] = await select(file, "SignatureValidationObjects/ValidationObject/@id");
    const chainRef = await select(
      file,
      "SignatureValidationStatus/AssociatedValidationReportData/CertificateChain/SigningCertificate/@VOReference",
    );
    const signerRef = await select(file, "SignerInformation/SignerCertificate/@VOReference");
    const id = objectId!.replace(/^id="(.*)"$/, "$1");
    expect(chainRef).toEqual([`VOReference="${id}"`]);
    expect(signerRef).toEqual([`VOReference="${id}"`]);
    expect(
      await select(file, "SignatureValidationObjects/ValidationObject/ValidationObjectRepresentation/base64"),
    ).toEqual([expect.stringContaining(Buffer.from(unchecked.certificate).toString("base64"))]);
  });
});

describe("FieldMDP: an approval signature's /Lock keeps the fields it names from being filled", () => {
  /** An empty signature field carrying `lock`, prepared before signing so the signature fills it. */
  const withLockedSignatureField = (input: Buffer, lock: PdfDict) =>
    withNewField(
      input,
      new PdfDict()
        .set("FT", name("Sig"))
        .set("T", new PdfString(Buffer.from("Locker")))
        .set("Rect", [0, 0, 0, 0])
        .set("F", 132)
        .set("Lock", lock),
    );

  const lockOf = (action: string, fields: string[] = []) =>
    new PdfDict()
      .set("Type", name("SigFieldLock"))
      .set("Action", name(action))
      .set(
        "Fields",
        fields.map((field) => new PdfString(Buffer.from(field))),
      );

  it("/Action /All: filling any field after the signature is disallowed", async () => {
    const prepared = await withLockedSignatureField(await readFile(FORM), lockOf("All"));
    const signed = await sign(prepared, { fieldName: "Locker" });
    const signature = await firstSignature(await withMutool(signed, "fill"));
    expect(signature.modifications).toBe("disallowed");
    expect(signature.changes.filter((change) => !change.allowed).map((change) => change.why)).toContainEqual(
      expect.stringContaining("locked by a signature (FieldMDP)"),
    );
  });

  it("/Action /Include naming other fields: filling this one stays allowed", async () => {
    const prepared = await withLockedSignatureField(
      await readFile(FORM),
      lockOf("Include", ["not.this.one"]),
    );
    const signed = await sign(prepared, { fieldName: "Locker" });
    const signature = await firstSignature(await withMutool(signed, "fill"));
    expect(signature.modifications).toBe("allowed");
  });
});
