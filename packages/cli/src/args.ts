import { isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EsignError } from "@esign/errors";

/**
 * `pnpm -s esign ...` runs with the workspace root as its working directory; INIT_CWD is where the
 * user typed the command, so relative paths mean what the user meant.
 */
export function userPath(path: string): string {
  return isAbsolute(path) ? path : resolve(process.env.INIT_CWD ?? process.cwd(), path);
}

export const LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"] as const;
export type Level = (typeof LEVELS)[number];

const signOptions = {
  output: { type: "string", short: "o" },
  signer: { type: "string" },
  p12: { type: "string" },
  password: { type: "string" },
  key: { type: "string" },
  cert: { type: "string" },
  chain: { type: "string" },
  url: { type: "string" },
  "client-id": { type: "string" },
  "client-secret": { type: "string" },
  "api-key": { type: "string" },
  credential: { type: "string" },
  pin: { type: "string" },
  otp: { type: "string" },
  /** CSC: have the service send a one-time password, then read it from stdin. */
  "send-otp": { type: "boolean" },
  module: { type: "string" },
  slot: { type: "string" },
  "key-label": { type: "string" },
  level: { type: "string" },
  tsa: { type: "string", multiple: true },
  field: { type: "string" },
  page: { type: "string" },
  reason: { type: "string" },
  location: { type: "string" },
  contact: { type: "string" },
  name: { type: "string" },
  certify: { type: "string" },
  "contents-size": { type: "string" },
  visible: { type: "boolean" },
  rect: { type: "string" },
  anchor: { type: "string" },
  "anchor-offset": { type: "string" },
  size: { type: "string" },
  text: { type: "string" },
  image: { type: "string" },
  font: { type: "string" },
  "font-size": { type: "string" },
  /** User or owner password of an encrypted input PDF. */
  "pdf-password": { type: "string" },
} as const;

/** Flags that describe a visible signature: they mean nothing without --visible. */
const APPEARANCE_FLAGS = [
  "rect",
  "anchor",
  "anchor-offset",
  "size",
  "text",
  "image",
  "font",
  "font-size",
] as const;

const verifyOptions = {
  trust: { type: "string", multiple: true },
  json: { type: "boolean" },
  /** Also require every signature to be "LTV enabled" (revocation data for every certificate in the /DSS). */
  ltv: { type: "boolean" },
  /** "etsi": print the ETSI TS 119 102-2 XML validation report instead of text. */
  report: { type: "string" },
  "pdf-password": { type: "string" },
  /** Ask OCSP responders and CRL distribution points for the statuses the /DSS lacks. */
  online: { type: "boolean" },
  /** Seconds of clock drift allowed on thisUpdate/nextUpdate and between /M and the time-stamp. */
  "revocation-grace": { type: "string" },
} as const;

export type SignArgs = ReturnType<typeof parseSignArgs>;
export type VerifyArgs = ReturnType<typeof parseVerifyArgs>;

/** node:util's parse errors are usage errors: report them with our code and exit status. */
export function asUsageError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new EsignError("E_CONFIG", (error as Error).message);
  }
}

/** `a,b,...`: exactly `count` finite numbers, for --rect, --anchor-offset and --size. */
function numbers(
  value: string | undefined,
  flag: string,
  count: number,
  shape: string,
): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(",").map((part) => (part.trim() === "" ? Number.NaN : Number(part)));
  if (parts.length !== count || !parts.every(Number.isFinite)) {
    throw new EsignError("E_CONFIG", `--${flag} must be ${shape} (numbers in points), got "${value}"`);
  }
  return parts;
}

function integer(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new EsignError("E_CONFIG", `--${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

export function parseSignArgs(argv: string[]) {
  const { values, positionals } = asUsageError(() =>
    parseArgs({ args: argv, options: signOptions, allowPositionals: true }),
  );
  if (positionals.length !== 1) throw new EsignError("E_CONFIG", "usage: esign sign IN.pdf -o OUT.pdf ...");
  if (!values.output) throw new EsignError("E_CONFIG", "missing -o OUT.pdf");
  const level = (values.level ?? "B-B") as Level;
  if (!LEVELS.includes(level))
    throw new EsignError("E_CONFIG", `--level must be one of ${LEVELS.join(", ")}`);
  const certify = integer(values.certify, "certify", 1, 3) as 1 | 2 | 3 | undefined;
  const page = integer(values.page, "page", 1, 1_000_000);
  return {
    input: userPath(positionals[0]!),
    output: userPath(values.output),
    signer: values.signer ?? (values.p12 || values.key ? "p12" : undefined),
    values,
    level,
    tsaUrls: values.tsa ?? [],
    field: {
      fieldName: values.field,
      page,
      reason: values.reason,
      location: values.location,
      contactInfo: values.contact,
      name: values.name,
      certify,
    },
    contentsSize: integer(values["contents-size"], "contents-size", 1024, 1_048_576),
    pdfPassword: values["pdf-password"],
    visible: visibleArgs(values, page),
  };
}

type SignValues = ReturnType<typeof parseArgs<{ options: typeof signOptions }>>["values"];

/** The visible-signature flags, checked; undefined without --visible. Files are read later. */
function visibleArgs(values: SignValues, page: number | undefined) {
  if (!values.visible) {
    const stray = APPEARANCE_FLAGS.find((flag) => values[flag] !== undefined);
    if (stray) throw new EsignError("E_CONFIG", `--${stray} describes a visible signature: add --visible`);
    return undefined;
  }
  if (values.rect !== undefined && values.anchor !== undefined) {
    throw new EsignError("E_CONFIG", "give --rect or --anchor, not both");
  }
  if (values.anchor === undefined && (values["anchor-offset"] !== undefined || values.size !== undefined)) {
    throw new EsignError("E_CONFIG", "--anchor-offset and --size place the seal relative to --anchor TEXT");
  }
  const rect = numbers(values.rect, "rect", 4, "x1,y1,x2,y2") as [number, number, number, number] | undefined;
  const placement =
    rect !== undefined
      ? { kind: "rect" as const, page, rect }
      : values.anchor !== undefined
        ? {
            kind: "anchor" as const,
            page,
            text: values.anchor,
            offset: numbers(values["anchor-offset"], "anchor-offset", 2, "dx,dy") as
              | [number, number]
              | undefined,
            size: numbers(values.size, "size", 2, "w,h") as [number, number] | undefined,
          }
        : { kind: "field" as const, page };
  return {
    placement,
    // A shell passes "\n" literally; in a seal text it means a line break.
    text: values.text?.replace(/\\n/g, "\n"),
    imagePath: values.image === undefined ? undefined : userPath(values.image),
    fontPath: values.font === undefined ? undefined : userPath(values.font),
    fontSize: integer(values["font-size"], "font-size", 4, 72),
    pdfPassword: values["pdf-password"],
  };
}

function secondsAsMs(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : seconds * 1000;
}

export function parseVerifyArgs(argv: string[]) {
  const { values, positionals } = asUsageError(() =>
    parseArgs({ args: argv, options: verifyOptions, allowPositionals: true }),
  );
  if (positionals.length !== 1)
    throw new EsignError(
      "E_CONFIG",
      "usage: esign verify FILE.pdf [--trust ROOT.pem|DIR|TRUSTED-LIST.xml ...] [--json | --report etsi] [--ltv] [--online] [--revocation-grace SECONDS] [--pdf-password PW]",
    );
  if (values.report !== undefined && values.report !== "etsi")
    throw new EsignError("E_CONFIG", `--report must be "etsi", got "${values.report}"`);
  return {
    file: userPath(positionals[0]!),
    trust: (values.trust ?? []).map(userPath),
    json: values.json ?? false,
    ltv: values.ltv ?? false,
    etsiReport: values.report === "etsi",
    pdfPassword: values["pdf-password"],
    online: values.online ?? false,
    revocationGraceMs: secondsAsMs(integer(values["revocation-grace"], "revocation-grace", 0, 86_400)),
  };
}
