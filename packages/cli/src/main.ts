#!/usr/bin/env -S npx tsx
import { readFile } from "node:fs/promises";
import type { VisibleSignatureOptions } from "@esign/appearance";
import { EsignError, isEsignError } from "@esign/errors";
import { FileSource } from "@esign/pdf";
import { signPdf, writeSignedPdf } from "@esign/pipeline";
import { parseSignArgs, type SignArgs } from "./args";
import { signerFromArgs, timestamperFromArgs } from "./signer-from-args";
import { verify } from "./verify";

const USAGE = `usage:
  esign sign IN.pdf -o OUT.pdf (--p12 KEY.p12 --password PW | --key KEY.pem --cert CERT.pem)
             [--field NAME] [--page N] [--reason TEXT] [--location TEXT] [--contact TEXT] [--certify 1|2|3]
             [--level B-B|B-T|B-LT|B-LTA] [--tsa URL ...] [--pdf-password PW]
             [--visible [--page N] [--rect x1,y1,x2,y2 | --anchor TEXT [--anchor-offset dx,dy] [--size w,h]]
                        [--text "TEMPLATE"] [--image SEAL.png|.jpg] [--font FONT.ttf] [--font-size PT]]
  esign sign IN.pdf -o OUT.pdf --signer csc --url CSC_BASE_URL --client-id ID --client-secret S
             --credential CRED [--pin PIN] [--otp OTP | --send-otp] [--level L] [--tsa URL ...]
  esign sign IN.pdf -o OUT.pdf --signer esign-api --url SERVICE_URL --api-key K --credential CRED
             [--cert CERT.pem] [--level L] [--tsa URL ...  (for B-LTA)]
  esign sign IN.pdf -o OUT.pdf --signer pkcs11 --module LIB --slot N --pin PIN --key-label L
             --cert CERT.pem [--chain CHAIN.pem] [--level L] [--tsa URL ...]
  esign verify FILE.pdf [--trust ROOT.pem ...] [--json] [--pdf-password PW]
  esign submit (FILE.pdf | STORE:KEY) [-o OUT.pdf] [--signer PROFILE] [--level L] [--no-wait]
  esign status JOB_ID
  (--pdf-password: the user or owner password of an encrypted PDF, with every signer)
  (submit/status use REDIS_URL and ESIGN_STORES like the services; default: local Redis, .data/objects)`;

/** The pipeline's appearance options from the CLI flags; reads the seal image. */
async function appearanceFromArgs(
  visible: SignArgs["visible"],
): Promise<VisibleSignatureOptions | undefined> {
  if (!visible) return undefined;
  const image =
    visible.imagePath === undefined
      ? undefined
      : await readFile(visible.imagePath).catch((cause: unknown) => {
          throw new EsignError(
            "E_APPEARANCE",
            `cannot read the seal image ${visible.imagePath}: ${(cause as Error).message}`,
            {
              cause,
            },
          );
        });
  return {
    placement: visible.placement,
    text: visible.text,
    image,
    fontPath: visible.fontPath,
    fontSize: visible.fontSize,
  };
}

async function sign(argv: string[]): Promise<number> {
  const args = parseSignArgs(argv);
  const appearance = await appearanceFromArgs(args.visible);
  const signer = await signerFromArgs(args);
  const source = await FileSource.open(args.input).catch((cause: unknown) => {
    throw new EsignError("E_NOT_FOUND", `cannot open ${args.input}: ${(cause as Error).message}`, { cause });
  });
  try {
    const signed = await signPdf(source, signer, {
      level: args.level,
      documentTimestamper: timestamperFromArgs(args),
      field: args.field,
      contentsSize: args.contentsSize,
      appearance,
      pdfPassword: args.pdfPassword,
      onWarning: (warning) => process.stderr.write(`warning: ${warning}\n`),
    });
    await writeSignedPdf(signed.output, args.output, args.input);
    const ltv = signed.ltv && (signed.ltv.ltvEnabled ? ", LTV enabled" : ", not LTV enabled");
    process.stderr.write(`signed ${args.output} (field ${signed.fieldName}, ${signed.level}${ltv ?? ""})\n`);
    return 0;
  } finally {
    await source.close();
    await signer.close?.();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "sign":
      return sign(rest);
    case "verify":
      return verify(rest);
    // Loaded only when used: the queue client and the S3 SDK weigh more than signing itself.
    case "submit":
      return (await import("./queue-commands")).submit(rest);
    case "status":
      return (await import("./queue-commands")).status(rest);
    case "help":
    case "--help":
    case undefined:
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new EsignError("E_CONFIG", `unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // One line a script can parse: the code is the contract, the message is for people.
    const code = isEsignError(error) ? error.code : "E_INTERNAL";
    const message = (error as Error)?.message?.split("\n")[0] ?? String(error);
    process.stderr.write(`error: ${code}: ${message}\n`);
    process.exitCode = 2;
  },
);
