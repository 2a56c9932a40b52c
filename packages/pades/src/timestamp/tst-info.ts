import { EsignError } from "@esign/errors";
import * as asn1js from "asn1js";
import { children, octetsOf, oidOf, parseBer } from "../asn1/read";
import { type DigestAlgorithm, digestAlgorithmFromOid } from "../pki/algorithms";

/** The parts of an RFC 3161 TSTInfo a verifier needs. */
export interface TstInfo {
  policy: string;
  imprintAlgorithm: DigestAlgorithm | undefined;
  imprintAlgorithmOid: string;
  hashedMessage: Uint8Array;
  genTime: Date;
}

export function parseTstInfo(der: Uint8Array): TstInfo {
  const [, policy, messageImprint, , genTime] = children(parseBer(der, "TSTInfo", "E_VERIFY"));
  const [algorithm, hashedMessage] = messageImprint ? children(messageImprint) : [];
  const imprintAlgorithmOid = algorithm ? oidOf(children(algorithm)[0]) : undefined;
  if (!policy || !hashedMessage || !imprintAlgorithmOid || !(genTime instanceof asn1js.GeneralizedTime)) {
    throw new EsignError("E_VERIFY", "malformed TSTInfo");
  }
  return {
    policy: oidOf(policy) ?? "",
    imprintAlgorithm: digestAlgorithmFromOid(imprintAlgorithmOid),
    imprintAlgorithmOid,
    hashedMessage: octetsOf(hashedMessage),
    genTime: genTime.toDate(),
  };
}
