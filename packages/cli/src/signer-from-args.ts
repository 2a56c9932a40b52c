import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
import { EsignError } from "@esign/errors";
import { TsaClient } from "@esign/pades";
import {
  createCscSigner,
  createP12Signer,
  createPkcs11Signer,
  EsignApiSigner,
  type Signer,
} from "@esign/signers";
import { type SignArgs, userPath } from "./args";

function required(value: string | undefined, flag: string, signer: string): string {
  if (!value) throw new EsignError("E_CONFIG", `--signer ${signer} needs --${flag}`);
  return value;
}

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await readFile(userPath(path), "utf8");
  } catch (cause) {
    throw new EsignError("E_CONFIG", `cannot read --${flag} ${path}`, { cause });
  }
}

/** Every certificate in a PEM file, DER, in file order. */
async function readCertificates(path: string, flag: string): Promise<Uint8Array[]> {
  const blocks = (await readText(path, flag)).match(
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
  );
  if (!blocks) throw new EsignError("E_CERT", `--${flag} ${path} holds no PEM certificate`);
  return blocks.map((pem) => new Uint8Array(new X509Certificate(pem).raw));
}

const timestampers = new WeakMap<SignArgs, TsaClient>();

/**
 * The time-stamp authorities given with --tsa (in failover order), one client per command so the
 * token size is probed once for the signature and the document time-stamp alike.
 */
export function timestamperFromArgs(args: SignArgs): TsaClient | undefined {
  if (args.tsaUrls.length === 0) return undefined;
  let client = timestampers.get(args);
  if (!client) {
    client = new TsaClient({ urls: args.tsaUrls });
    timestampers.set(args, client);
  }
  return client;
}

/** With --send-otp: ask the service to send an OTP to the credential's owner, then read it from stdin. */
async function promptOtp(): Promise<string> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await prompt.question("one-time password: ")).trim();
  } finally {
    prompt.close();
  }
}

/** Builds the backend the flags describe. Secrets come from flags here; services read them from config. */
export async function signerFromArgs(args: SignArgs): Promise<Signer> {
  const { values } = args;
  const timestamper = timestamperFromArgs(args);
  switch (args.signer) {
    case "p12": {
      if (values.p12) {
        return createP12Signer({
          credentials: { p12Path: userPath(values.p12), password: values.password ?? "" },
          timestamper,
        });
      }
      const read = (flag: "key" | "cert" | "chain") => readText(required(values[flag], flag, "p12"), flag);
      return createP12Signer({
        credentials: {
          keyPem: await read("key"),
          certPem: await read("cert"),
          chainPem: values.chain ? await read("chain") : undefined,
        },
        timestamper,
      });
    }
    case "csc":
      return createCscSigner({
        url: required(values.url, "url", "csc"),
        clientId: required(values["client-id"], "client-id", "csc"),
        clientSecret: required(values["client-secret"], "client-secret", "csc"),
        credentialId: required(values.credential, "credential", "csc"),
        pin: values.pin,
        otp: values.otp,
        requestOtp: values["send-otp"] ? promptOtp : undefined,
        timestamper,
      });
    case "esign-api":
      return new EsignApiSigner({
        url: required(values.url, "url", "esign-api"),
        apiKey: required(values["api-key"], "api-key", "esign-api"),
        credentialId: required(values.credential, "credential", "esign-api"),
        certificate: values.cert ? (await readCertificates(values.cert, "cert"))[0] : undefined,
      });
    case "pkcs11": {
      const slot = Number(required(values.slot, "slot", "pkcs11"));
      if (!Number.isSafeInteger(slot) || slot < 0) {
        throw new EsignError("E_CONFIG", `--slot must be a slot ID or index, got "${values.slot}"`);
      }
      const [certificate, ...certChain] = await readCertificates(
        required(values.cert, "cert", "pkcs11"),
        "cert",
      );
      return createPkcs11Signer({
        module: required(values.module, "module", "pkcs11"),
        slot,
        pin: required(values.pin, "pin", "pkcs11"),
        keyLabel: required(values["key-label"], "key-label", "pkcs11"),
        certificate: certificate!,
        chain: [...certChain, ...(values.chain ? await readCertificates(values.chain, "chain") : [])],
        timestamper,
      });
    }
    case undefined:
      throw new EsignError(
        "E_CONFIG",
        "choose a signer: --p12 KEY.p12 --password PW, or --signer csc|esign-api|pkcs11",
      );
    default:
      throw new EsignError("E_CONFIG", `unknown signer "${args.signer}"`);
  }
}
