import { randomBytes, X509Certificate } from "node:crypto";
import { EsignError } from "@esign/errors";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { OID } from "../asn1/oids";
import { children, parseBer, rawBytes } from "../asn1/read";
import { parseCms } from "../cms/parse";
import { httpCall } from "../http";
import { type DigestAlgorithm, digestLength, digestOid, hash } from "../pki/algorithms";
import { bytesEqual } from "../pki/certificate";
import { verifyTimestampToken } from "../validation/verify-cms";

export interface TsaClientOptions {
  /** Time-stamp authorities in order of preference; the next is tried when one fails. */
  urls: string[];
  /** Hash of the message imprint. Default sha256. */
  digestAlgorithm?: DigestAlgorithm;
  /** Per TSA request. Default 10 s. */
  timeoutMs?: number;
  /** TSA policy OID to ask for (reqPolicy); default: the TSA's own. */
  policy?: string;
  headers?: Record<string, string>;
}

const TIME_STAMPING = "1.3.6.1.5.5.7.3.8";
/** Room for what differs between two tokens of one TSA: serial, nonce and genTime lengths. */
const TOKEN_SIZE_MARGIN = 64;

function tsaError(message: string, permanent = false): EsignError {
  return new EsignError("E_TSA", message, { permanent });
}

/** A positive INTEGER nonce: 8 random octets with the sign bit cleared and a non-zero first octet. */
function newNonce(): Uint8Array {
  const nonce = randomBytes(8);
  nonce[0] = (nonce[0]! & 0x7f) | 0x01;
  return nonce;
}

/**
 * RFC 3161 client. Implements the signers' `Timestamper` (signature time-stamps over
 * SignerInfo.signature) and time-stamps given digests (document time-stamps over a ByteRange).
 * Every token is checked before it is returned: status, nonce, message imprint, the TSA's
 * signature over TSTInfo and the presence of the TSA certificate (certReq).
 */
export class TsaClient {
  private readonly digestAlgorithm: DigestAlgorithm;
  private tokenSize: Promise<number> | undefined;

  constructor(private readonly options: TsaClientOptions) {
    if (options.urls.length === 0) throw new EsignError("E_CONFIG", "no time-stamp authority URL given");
    this.digestAlgorithm = options.digestAlgorithm ?? "sha256";
  }

  /** A signature time-stamp token over `signatureValue` (hashed here). */
  timestamp(signatureValue: Uint8Array): Promise<Uint8Array> {
    return this.timestampDigest(hash(this.digestAlgorithm, signatureValue), this.digestAlgorithm);
  }

  /** A token whose message imprint is `digest` (already computed with `algorithm`). */
  async timestampDigest(digest: Uint8Array, algorithm: DigestAlgorithm): Promise<Uint8Array> {
    if (digest.length !== digestLength(algorithm)) {
      throw new EsignError("E_CONFIG", `a ${algorithm} imprint has ${digestLength(algorithm)} bytes`);
    }
    let lastError: unknown;
    for (const url of this.options.urls) {
      try {
        return await this.request(url, digest, algorithm);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /**
   * Upper bound of a token's size: one probe time-stamp (of random data) per client, plus a
   * margin, so a placeholder is never sized by guesswork.
   */
  estimateTokenSize(): Promise<number> {
    this.tokenSize ??= this.timestamp(randomBytes(32)).then(
      (token) => token.length + TOKEN_SIZE_MARGIN,
      (error: unknown) => {
        this.tokenSize = undefined;
        throw error;
      },
    );
    return this.tokenSize;
  }

  private async request(url: string, digest: Uint8Array, algorithm: DigestAlgorithm): Promise<Uint8Array> {
    const nonce = newNonce();
    const query = new pkijs.TimeStampReq({
      version: 1,
      messageImprint: new pkijs.MessageImprint({
        hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: digestOid(algorithm) }),
        hashedMessage: new asn1js.OctetString({ valueHex: digest }),
      }),
      nonce: new asn1js.Integer({ valueHex: nonce }),
      certReq: true,
      ...(this.options.policy ? { reqPolicy: this.options.policy } : {}),
    });
    const answer = await httpCall(url, {
      body: new Uint8Array(query.toSchema().toBER()),
      headers: { "content-type": "application/timestamp-query", ...this.options.headers },
      timeoutMs: this.options.timeoutMs ?? 10_000,
      unavailableCode: "E_TSA",
      service: "time-stamp authority",
    });
    if (answer.status !== 200) {
      throw tsaError(`time-stamp authority ${url} answered HTTP ${answer.status}`, answer.status < 500);
    }
    const token = tokenFrom(answer.body, url);
    await checkToken(token, { digest, algorithm, nonce, url });
    return token;
  }
}

/** The TimeStampToken's own bytes from a TimeStampResp, after its PKIStatus said it was granted. */
function tokenFrom(response: Uint8Array, url: string): Uint8Array {
  let fields: ReturnType<typeof children>;
  try {
    fields = children(parseBer(response, "TimeStampResp", "E_TSA"));
  } catch (cause) {
    throw tsaError(`time-stamp authority ${url}: ${(cause as Error).message}`);
  }
  const [statusInfo, token] = fields;
  const statusBlock = statusInfo ? children(statusInfo)[0] : undefined;
  const status = statusBlock instanceof asn1js.Integer ? statusBlock.valueBlock.valueDec : -1;
  // 0 granted, 1 grantedWithMods; everything else carries no token.
  if (status !== 0 && status !== 1) {
    const text = statusInfo ? children(children(statusInfo)[1] ?? statusInfo) : [];
    const detail = text.map((item) => (item as asn1js.Utf8String).valueBlock?.value ?? "").join(" ");
    throw tsaError(
      `time-stamp authority ${url} refused the request (status ${status}) ${detail}`.trim(),
      true,
    );
  }
  if (!token) throw tsaError(`time-stamp authority ${url} granted the request but sent no token`);
  return rawBytes(token);
}

async function checkToken(
  token: Uint8Array,
  expected: { digest: Uint8Array; algorithm: DigestAlgorithm; nonce: Uint8Array; url: string },
): Promise<void> {
  const bad = (what: string) => tsaError(`time-stamp authority ${expected.url}: ${what}`);
  let parsed: ReturnType<typeof parseCms>;
  try {
    parsed = parseCms(token);
  } catch {
    throw bad("the token is not a CMS SignedData");
  }
  if (parsed.encapsulatedContentType !== OID.tstInfo || !parsed.encapsulatedContent) {
    throw bad("the token carries no TSTInfo");
  }
  const tstInfo = pkijs.TSTInfo.fromBER(parsed.encapsulatedContent);
  const nonce = tstInfo.nonce ? new Uint8Array(tstInfo.nonce.valueBlock.valueHexView) : undefined;
  if (!nonce || !bytesEqual(nonce, expected.nonce)) throw bad("the token's nonce is not the one we sent");
  if (parsed.certificates.length === 0) throw bad("the token does not include the TSA certificate");
  const verification = await verifyTimestampToken(
    token,
    async (algorithm) => (algorithm === expected.algorithm ? expected.digest : new Uint8Array()),
    [],
  );
  if (!verification.imprintMatches) throw bad("the token's message imprint is not the one we sent");
  if (!verification.signatureValid || !verification.messageDigestMatches) {
    throw bad("the TSA's signature over the token does not verify");
  }
  // RFC 3161 2.3: a TSA certificate is for time-stamping only; validators reject anything else.
  const signer = verification.signerCertificate && new X509Certificate(verification.signerCertificate);
  if (!signer?.keyUsage?.includes(TIME_STAMPING)) {
    throw bad("the token is not signed with a time-stamping certificate (extended key usage)");
  }
}
