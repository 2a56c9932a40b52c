import { X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import { AppearanceFont } from "./font";

/** What a seal's text template can say about the signature. */
export interface TemplateValues {
  /** The signer's name: the certificate subject's common name unless one is given. */
  name?: string;
  /** The claimed signing time, `YYYY-MM-DD HH:mm:ss UTC`. */
  date?: string;
  reason?: string;
  location?: string;
  /** The certificate subject, RFC 4514 (`CN=...,O=...,C=...`). */
  subject?: string;
}

const PLACEHOLDERS = ["name", "date", "reason", "location", "subject"] as const;

/** The text of a seal when none is given; lines whose placeholders are all empty are left out. */
export const DEFAULT_TEXT_TEMPLATE =
  "Digitally signed by {name}\nDate: {date}\nReason: {reason}\nLocation: {location}";

/** Subjects of the certificates seen, by buffer: a signer's description hands out the same one per job. */
const subjects = new WeakMap<Uint8Array, string>();

/** A certificate's subject in RFC 4514 order (node lists the RDNs in certificate order, one a line). */
export function certificateSubject(certificate: Uint8Array): string {
  let subject = subjects.get(certificate);
  if (subject === undefined) {
    subject = new X509Certificate(certificate).subject.split("\n").reverse().join(",");
    subjects.set(certificate, subject);
  }
  return subject;
}

/**
 * The template values of one signature: name and subject from the signer's certificate (a given
 * `name` wins), date from the signing time.
 */
export function signatureTemplateValues(
  certificate: Uint8Array,
  signingTime: Date,
  field: { name?: string; reason?: string; location?: string },
): TemplateValues {
  const subjectLines = new X509Certificate(certificate).subject.split("\n");
  const commonName = subjectLines.find((line) => line.startsWith("CN="))?.slice(3);
  return {
    name: field.name ?? commonName ?? certificateSubject(certificate),
    date: formatSealDate(signingTime),
    reason: field.reason,
    location: field.location,
    subject: certificateSubject(certificate),
  };
}

/** The signing time as seals show it; UTC so a retried job renders the same bytes anywhere. */
function formatSealDate(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * Fills `{name}`, `{date}`, `{reason}`, `{location}` and `{subject}`. A line whose placeholders all
 * came out empty is dropped ("Reason: " with no reason says nothing); an unknown placeholder is
 * E_APPEARANCE, since a typo would otherwise be stamped on every document.
 */
export function fillTemplate(template: string, values: TemplateValues): string[] {
  const lines: string[] = [];
  for (const line of template.replace(/\r\n?/g, "\n").split("\n")) {
    let placeholders = 0;
    let empty = 0;
    const filled = line.replace(/\{([^{}]*)\}/g, (_, key: string) => {
      if (!(PLACEHOLDERS as readonly string[]).includes(key)) {
        throw new EsignError(
          "E_APPEARANCE",
          `unknown placeholder {${key}} in the seal text; use ${PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}`,
        );
      }
      const value = values[key as keyof TemplateValues] ?? "";
      placeholders++;
      if (value === "") empty++;
      return value;
    });
    if (placeholders > 0 && empty === placeholders) continue;
    // Tabs and other controls have no glyph; a seal line is plain text.
    lines.push(filled.replace(/\p{Cc}/gu, " "));
  }
  return lines;
}

/**
 * Checks a seal's text template where it is configured (a profile's seal at start-up, a tenant's
 * template at upload) rather than on every job that uses it: an unknown placeholder or a character
 * the font lacks is E_APPEARANCE. Placeholders stand in as their own names, which any font draws.
 */
export async function checkSealText(template = DEFAULT_TEXT_TEMPLATE, fontPath?: string): Promise<void> {
  const lines = fillTemplate(template, Object.fromEntries(PLACEHOLDERS.map((key) => [key, key])));
  if (lines.length > 0) await (await AppearanceFont.open(fontPath)).shape(lines);
}
