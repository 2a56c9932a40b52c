import { deflateSync } from "node:zlib";
import { AppearanceFont } from "@esign/appearance";
import { EsignError } from "@esign/errors";
import {
  BufferSource,
  encodeTextString,
  formatNumber,
  formatPdfDate,
  IncrementalUpdate,
  name,
  openPdf,
  PdfDict,
  PdfRef,
  PdfStream,
} from "@esign/pdf";

export interface CompletionSigner {
  name: string;
  email: string;
  method: string;
  status: string;
  signedAt?: string;
  ip?: string;
  userAgent?: string;
  certificateSubject?: string;
  digest?: string;
}

export interface CompletionSummary {
  contractId: string;
  title: string;
  tenant: string;
  createdAt: string;
  completedAt?: string;
  status: string;
  originalSha256: string;
  finalSha256?: string;
  signers: CompletionSigner[];
  auditHead: { entries: number; hash: string };
}

type SubsetFont = Awaited<ReturnType<AppearanceFont["shape"]>>;

/** A4 in points, with the margins and columns of the certificate. */
const PAGE = { width: 595.28, height: 841.89, margin: 56 };
const LABEL_WIDTH = 118;
const VALUE_X = PAGE.margin + LABEL_WIDTH;
const VALUE_WIDTH = PAGE.width - PAGE.margin - VALUE_X;
const FULL_WIDTH = PAGE.width - 2 * PAGE.margin;
const SIZES = { title: 18, heading: 12, body: 9, footer: 7.5 };
const LEADING = 1.35;
const FOOTER_Y = 32;
/** Shown for a character the font has no glyph for (an emoji in a name, say). */
const REPLACEMENT = "?";

const METHOD_NAMES: Record<string, string> = {
  "esign-api": "personal credential at the signing service (PIN and one-time code)",
  "email-otp": "one-time code by e-mail, organisation seal",
  "sms-otp": "one-time code by SMS, organisation seal",
  "access-code": "access code handed over by the sender, organisation seal",
};

type Block =
  | { kind: "title" | "heading"; text: string }
  | { kind: "field"; label: string; value: string }
  | { kind: "text"; text: string }
  | { kind: "rule" }
  | { kind: "space"; height: number };

/** A line of text at a place on a page. */
interface Placed {
  page: number;
  x: number;
  y: number;
  size: number;
  gray: number;
  text: string;
}

/**
 * The certificate of completion: the document (title, ids, digests before and after signing), each
 * signer (method, status, time, address, user agent, certificate, signature digest) and the audit
 * chain head. Text is drawn with the appearance font (Noto Sans SC, subset with HarfBuzz), so names
 * in Chinese and Latin scripts extract as text.
 */
export async function renderCompletionCertificate(summary: CompletionSummary): Promise<Uint8Array> {
  const font = await AppearanceFont.open();
  const blocks = certificateBlocks(summary);
  const texts = blocks.flatMap((block) =>
    block.kind === "field" ? [block.label, block.value] : "text" in block ? [block.text] : [],
  );
  const footerText = `Certificate of completion · contract ${summary.contractId}`;
  const measure = await measurer(font, [...texts, footerText, "page 0123456789 of"]);

  const placed: Placed[] = [];
  const rules: { page: number; y: number }[] = [];
  let page = 0;
  let y = PAGE.height - PAGE.margin;
  const room = (height: number) => {
    if (y - height < PAGE.margin) {
      page++;
      y = PAGE.height - PAGE.margin;
    }
  };
  for (const block of blocks) {
    if (block.kind === "space") {
      y -= block.height;
      continue;
    }
    if (block.kind === "rule") {
      room(6);
      rules.push({ page, y: y - 3 });
      y -= 6;
      continue;
    }
    if (block.kind === "field") {
      const size = SIZES.body;
      const labelLines = wrap(measure, block.label, size, LABEL_WIDTH - 8);
      const valueLines = wrap(measure, block.value, size, VALUE_WIDTH);
      const rows = Math.max(labelLines.length, valueLines.length);
      room(Math.min(rows, 3) * size * LEADING);
      for (let row = 0; row < rows; row++) {
        room(size * LEADING);
        y -= size * LEADING;
        const label = labelLines[row];
        const value = valueLines[row];
        if (label) placed.push({ page, x: PAGE.margin, y, size, gray: 0.4, text: label });
        if (value) placed.push({ page, x: VALUE_X, y, size, gray: 0, text: value });
      }
      continue;
    }
    const size = block.kind === "title" ? SIZES.title : block.kind === "heading" ? SIZES.heading : SIZES.body;
    const lines = wrap(measure, block.text, size, FULL_WIDTH);
    // A heading stays with what follows it.
    room((lines.length + (block.kind === "heading" ? 3 : 0)) * size * LEADING);
    for (const line of lines) {
      room(size * LEADING);
      y -= size * LEADING;
      placed.push({ page, x: PAGE.margin, y, size, gray: 0, text: line });
    }
  }
  const pageCount = page + 1;
  for (let index = 0; index < pageCount; index++) {
    const text = `${footerText} · page ${index + 1} of ${pageCount}`;
    placed.push({ page: index, x: PAGE.margin, y: FOOTER_Y, size: SIZES.footer, gray: 0.4, text });
  }

  const subset = await font.shape(placed.map((item) => measure.clean(item.text)));
  return writePdf(summary, subset, placed, rules, pageCount);
}

function certificateBlocks(summary: CompletionSummary): Block[] {
  const field = (label: string, value: string | undefined): Block[] =>
    value === undefined || value === "" ? [] : [{ kind: "field", label, value }];
  const blocks: Block[] = [
    { kind: "title", text: "Certificate of Completion" },
    { kind: "text", text: "签署完成证书" },
    { kind: "space", height: 10 },
    { kind: "heading", text: "Document" },
    { kind: "rule" },
    ...field("Title", summary.title),
    ...field("Contract", summary.contractId),
    ...field("Tenant", summary.tenant),
    ...field("Status", summary.status),
    ...field("Created", readableTime(summary.createdAt)),
    ...field("Completed", summary.completedAt && readableTime(summary.completedAt)),
    ...field("Original SHA-256", summary.originalSha256),
    ...field("Final SHA-256", summary.finalSha256),
    { kind: "space", height: 10 },
    { kind: "heading", text: `Signers (${summary.signers.length})` },
    { kind: "rule" },
  ];
  summary.signers.forEach((signer, index) => {
    if (index > 0) blocks.push({ kind: "space", height: 6 });
    blocks.push(
      { kind: "text", text: `${index + 1}. ${signer.name} <${signer.email}>` },
      ...field(
        "Authentication",
        METHOD_NAMES[signer.method] ? `${signer.method}: ${METHOD_NAMES[signer.method]}` : signer.method,
      ),
      ...field("Status", signer.status),
      ...field("Signed", signer.signedAt && readableTime(signer.signedAt)),
      ...field("IP address", signer.ip),
      ...field("User agent", signer.userAgent),
      ...field("Certificate", signer.certificateSubject),
      ...field("Signature digest", signer.digest),
    );
  });
  blocks.push(
    { kind: "space", height: 10 },
    { kind: "heading", text: "Audit trail" },
    { kind: "rule" },
    ...field("Entries", String(summary.auditHead.entries)),
    ...field("Chain head (SHA-256)", summary.auditHead.hash),
    { kind: "space", height: 6 },
    {
      kind: "text",
      text:
        "Each audit entry carries the SHA-256 of the entry before it; the chain head above is the hash of the last entry. " +
        "The evidence pack holds the entries (audit.json), the signed document and its validation report.",
    },
  );
  return blocks;
}

/** `2026-12-05T17:40:12.345Z` → `2026-12-05 17:40:12 UTC`; anything unparsable is shown as given. */
function readableTime(iso: string): string {
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : `${time.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

interface Measurer {
  /** Width of one grapheme of cleaned text in glyph space (thousandths of the font size). */
  width(grapheme: string): number;
  /** The text as drawn: NFC, characters the font lacks replaced. */
  clean(text: string): string;
}

const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });
const graphemes = (text: string) => Array.from(segmenter.segment(text), (part) => part.segment);

/**
 * Widths of every grapheme the certificate uses, shaped once (the final shaping of the same
 * characters reuses the font's subset). A grapheme the font has no glyph for is replaced.
 * Widths are summed without kerning, which the line width leaves room for.
 */
async function measurer(font: AppearanceFont, texts: string[]): Promise<Measurer> {
  const unique = [...new Set(texts.flatMap((text) => graphemes(text.normalize("NFC"))))].filter(
    (grapheme) => grapheme !== REPLACEMENT,
  );
  const missing = new Set<string>();
  for (;;) {
    const candidates = [REPLACEMENT, ...unique.filter((grapheme) => !missing.has(grapheme))];
    try {
      const shaped = await font.shape(candidates);
      const widths = new Map(candidates.map((grapheme, index) => [grapheme, shaped.lines[index]!.width]));
      return {
        clean: (text) =>
          graphemes(text.normalize("NFC"))
            .map((grapheme) => (missing.has(grapheme) ? REPLACEMENT : grapheme))
            .join(""),
        width: (grapheme) => widths.get(grapheme) ?? widths.get(REPLACEMENT)!,
      };
    } catch (error) {
      const culprit = error instanceof EsignError ? missingCharacter(error, unique, missing) : undefined;
      if (!culprit) throw error;
      missing.add(culprit);
    }
  }
}

/** The grapheme an E_APPEARANCE "no glyph for 'x' (U+XXXX)" error is about, if it is one of ours. */
function missingCharacter(error: EsignError, unique: string[], missing: Set<string>): string | undefined {
  const match = error.code === "E_APPEARANCE" ? /\(U\+([0-9A-F]{4,6})\)/.exec(error.message) : null;
  if (!match) return undefined;
  const char = String.fromCodePoint(Number.parseInt(match[1]!, 16));
  return unique.find((grapheme) => !missing.has(grapheme) && grapheme.includes(char));
}

/**
 * Greedy line breaking: after a space, or between two graphemes where either is CJK (which breaks
 * anywhere); a word longer than the line is broken where it must.
 */
function wrap(measure: Measurer, text: string, size: number, maxWidth: number): string[] {
  const limit = (maxWidth * 1000) / size;
  const lines: string[] = [];
  for (const paragraph of measure.clean(text).split("\n")) {
    const parts = graphemes(paragraph);
    let start = 0;
    while (start < parts.length) {
      let width = 0;
      let end = start;
      let lastBreak = -1;
      while (end < parts.length && width + measure.width(parts[end]!) <= limit) {
        width += measure.width(parts[end]!);
        end++;
        if (end < parts.length && (parts[end - 1] === " " || isCjk(parts[end - 1]!) || isCjk(parts[end]!))) {
          lastBreak = end;
        }
      }
      if (end < parts.length && lastBreak > start) end = lastBreak;
      if (end === start) end = start + 1;
      lines.push(parts.slice(start, end).join("").trimEnd());
      start = end;
      while (parts[start] === " ") start++;
    }
  }
  return lines.filter((line) => line !== "");
}

function isCjk(grapheme: string): boolean {
  return /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\u3000-\u303f\uff00-\uffef]/u.test(grapheme);
}

/** A one-page-tree skeleton the certificate is written onto as one update (the pdf package's writer). */
const SKELETON = [
  "%PDF-1.7",
  "%\xe2\xe3\xcf\xd3",
  "1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj",
  "2 0 obj\n<</Type /Pages /Kids [] /Count 0>>\nendobj",
  "3 0 obj\n<<>>\nendobj",
];

function skeletonPdf(): Uint8Array {
  let body = "";
  const offsets: number[] = [];
  for (const part of SKELETON) {
    if (part.endsWith("endobj")) offsets.push(body.length);
    body += `${part}\n`;
  }
  const xref = [
    "xref",
    `0 ${offsets.length + 1}`,
    "0000000000 65535 f ",
    ...offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n `),
  ].join("\n");
  const trailer = `trailer\n<</Size ${offsets.length + 1} /Root 1 0 R /Info 3 0 R>>\nstartxref\n${body.length}\n%%EOF\n`;
  return Buffer.from(`${body}${xref}\n${trailer}`, "latin1");
}

async function writePdf(
  summary: CompletionSummary,
  subset: SubsetFont,
  placed: Placed[],
  rules: { page: number; y: number }[],
  pageCount: number,
): Promise<Uint8Array> {
  const skeleton = skeletonPdf();
  const doc = await openPdf(new BufferSource(skeleton));
  const update = new IncrementalUpdate(doc);
  const pagesRef = new PdfRef(2, 0);
  const fontRef = subset.embed(update);
  const kids: PdfRef[] = [];
  for (let page = 0; page < pageCount; page++) {
    const ops: string[] = [];
    for (const rule of rules.filter((item) => item.page === page)) {
      ops.push(
        `0.75 G 0.5 w ${n(PAGE.margin)} ${n(rule.y)} m ${n(PAGE.width - PAGE.margin)} ${n(rule.y)} l S`,
      );
    }
    placed.forEach((item, index) => {
      if (item.page !== page) return;
      ops.push(
        `BT /F0 ${n(item.size)} Tf ${n(item.gray)} g ${n(item.x)} ${n(item.y)} Td ${subset.showText(subset.lines[index]!)} ET`,
      );
    });
    const contents = update.add(
      new PdfStream(
        PdfDict.of({ Filter: name("FlateDecode") }),
        undefined,
        deflateSync(Buffer.from(ops.join("\n"), "latin1")),
      ),
    );
    kids.push(
      update.add(
        PdfDict.of({
          Type: name("Page"),
          Parent: pagesRef,
          MediaBox: [0, 0, PAGE.width, PAGE.height],
          Resources: PdfDict.of({ Font: PdfDict.of({ F0: fontRef }) }),
          Contents: contents,
        }),
      ),
    );
  }
  update.set(pagesRef, PdfDict.of({ Type: name("Pages"), Kids: kids, Count: kids.length }));
  const date = new Date(summary.completedAt ?? summary.createdAt);
  update.set(
    new PdfRef(3, 0),
    PdfDict.of({
      Title: encodeTextString(`Certificate of completion: ${summary.title}`),
      Subject: encodeTextString(`Contract ${summary.contractId}`),
      Producer: encodeTextString("esign-agent"),
      CreationDate: Number.isNaN(date.getTime()) ? undefined : encodeTextString(formatPdfDate(date)),
    }),
  );
  const { bytes } = update.build();
  return Buffer.concat([skeleton, bytes]);
}

function n(value: number): string {
  return formatNumber(Math.round(value * 100) / 100);
}
