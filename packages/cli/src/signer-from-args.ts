import { EsignError } from "@esign/errors";
import { createP12Signer, type Signer } from "@esign/signers";
import { type SignArgs, userPath } from "./args";

function required(value: string | undefined, flag: string, signer: string): string {
  if (!value) throw new EsignError("E_CONFIG", `--signer ${signer} needs --${flag}`);
  return value;
}

/** Builds the backend the flags describe. Secrets come from flags here; services read them from config. */
export async function signerFromArgs(args: SignArgs): Promise<Signer> {
  const { values } = args;
  switch (args.signer) {
    case "p12": {
      if (values.p12) {
        return createP12Signer({
          credentials: { p12Path: userPath(values.p12), password: values.password ?? "" },
        });
      }
      const { readFile } = await import("node:fs/promises");
      const read = (flag: "key" | "cert" | "chain") =>
        readFile(userPath(required(values[flag], flag, "p12")), "utf8");
      return createP12Signer({
        credentials: {
          keyPem: await read("key"),
          certPem: await read("cert"),
          chainPem: values.chain ? await read("chain") : undefined,
        },
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
