import {
  certificatesOfSignature,
  type DigestAlgorithm,
  gatherLtv,
  type RevocationOptions,
  vriKey,
} from "@esign/pades";
import { appendDss, type ByteSource, prepareSignature } from "@esign/pdf";
import type { LtvMaterial } from "@esign/signers";
import { type OpenInputOptions, openInput } from "./prepare";

/** Makes RFC 3161 tokens over a given digest: what a /DocTimeStamp (B-LTA) needs. */
export interface DocumentTimestamper {
  timestampDigest(digest: Uint8Array, algorithm: DigestAlgorithm): Promise<Uint8Array>;
  /** Upper bound of a token's DER size, to size the /DocTimeStamp's /Contents. */
  estimateTokenSize(): Promise<number>;
}

export interface ExtendedRevision {
  revision: Uint8Array;
  output: ByteSource;
}

/**
 * B-LT: one incremental update adding the validation data of the signature whose embedded
 * /Contents (CMS plus zero padding) is `contents` to the /DSS, with its /VRI entry. The data is
 * the signer's own LTV bundle when it sent one, otherwise fetched from the certificates' OCSP
 * responders and CRL distribution points.
 */
export async function appendValidationData(
  signed: ByteSource,
  contents: { cms: Uint8Array; capacity: number },
  options: OpenInputOptions & { ltv?: LtvMaterial; revocation?: RevocationOptions },
): Promise<ExtendedRevision> {
  const ltv = options.ltv ?? (await gatherLtv(certificatesOfSignature(contents.cms), options.revocation));
  const embedded = new Uint8Array(contents.capacity);
  embedded.set(contents.cms);
  const indices = (items: Uint8Array[]) => items.map((_, index) => index);
  const dss = await appendDss(await openInput(signed, options), {
    ...ltv,
    vri: {
      [vriKey(embedded)]: {
        certs: indices(ltv.certs),
        ocsps: indices(ltv.ocsps),
        crls: indices(ltv.crls),
        time: new Date(),
      },
    },
  });
  return { revision: dss.revision, output: dss.output() };
}

/** B-LTA: a /DocTimeStamp over everything before it (the signature and its /DSS included). */
export async function appendDocumentTimestamp(
  signed: ByteSource,
  timestamper: DocumentTimestamper,
  options: OpenInputOptions = {},
): Promise<ExtendedRevision> {
  const contentsSize = await timestamper.estimateTokenSize();
  const prepared = await prepareSignature(await openInput(signed, options), {
    kind: "timestamp",
    contentsSize,
  });
  const digest = await prepared.digest("sha256");
  const revision = prepared.embed(await timestamper.timestampDigest(digest, "sha256"));
  return { revision, output: prepared.output(revision) };
}
