import { createHash, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { hashByOid, OID } from "./oids";
import type { Pki } from "./pki";
import {
  algorithm,
  attribute,
  issuerAndSerial,
  pkijsCertificate,
  positiveInteger,
  sha256WithRsa,
  signedAttributesForSigning,
  signingCertificateV2,
  signWithEntity,
  sortedSignedAttributes,
} from "./signing/cms-parts";

/** PKIFailureInfo bit numbers (RFC 3161 2.4.2) the simulator reports. */
const FAILURE = { badAlg: 0, badRequest: 2, badDataFormat: 5, unacceptedPolicy: 15, unacceptedExtension: 16 };

export interface TimeStampOptions {
  policyOid: string;
  /** Stated accuracy of genTime, in seconds. */
  accuracySeconds: number;
}

export interface TimeStampRequestData {
  hashOid: string;
  hashedMessage: Buffer;
  nonce?: asn1js.Integer;
  certReq: boolean;
}

/**
 * Serial numbers: 8 random octets chosen at start followed by a 64-bit counter, so serials are
 * unique within a run and, with overwhelming probability, across restarts on the same PKI.
 */
class SerialNumbers {
  private readonly prefix = randomBytes(8);
  private counter = 0n;

  next(): asn1js.Integer {
    this.counter += 1n;
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(this.counter);
    return positiveInteger(Buffer.concat([this.prefix, counter]));
  }
}

export class TimeStampAuthority {
  private readonly serials = new SerialNumbers();

  constructor(
    private readonly pki: Pki,
    private readonly options: TimeStampOptions,
  ) {}

  /** Answers a DER TimeStampReq with a DER TimeStampResp; malformed requests get a rejection, never a throw. */
  respond(requestDer: Buffer): Buffer {
    let request: pkijs.TimeStampReq;
    try {
      request = pkijs.TimeStampReq.fromBER(requestDer);
    } catch {
      return rejection(FAILURE.badDataFormat, "request is not a DER TimeStampReq");
    }
    const hashOid = request.messageImprint.hashAlgorithm.algorithmId;
    const hashedMessage = Buffer.from(request.messageImprint.hashedMessage.valueBlock.valueHexView);
    const hash = hashByOid(hashOid);
    if (!hash || hash.name === "sha1")
      return rejection(FAILURE.badAlg, `hash algorithm ${hashOid} is not accepted`);
    if (hashedMessage.length !== hash.length) {
      return rejection(FAILURE.badDataFormat, "message imprint length does not match its hash algorithm");
    }
    if (request.reqPolicy && request.reqPolicy !== this.options.policyOid) {
      return rejection(FAILURE.unacceptedPolicy, `policy ${request.reqPolicy} is not offered`);
    }
    if (request.extensions?.length)
      return rejection(FAILURE.unacceptedExtension, "extensions are not supported");
    const token = this.token({
      hashOid,
      hashedMessage,
      nonce: request.nonce,
      certReq: request.certReq ?? false,
    });
    return Buffer.from(
      new pkijs.TimeStampResp({ status: new pkijs.PKIStatusInfo({ status: 0 }), timeStampToken: token })
        .toSchema()
        .toBER(),
    );
  }

  /** A time-stamp token (ContentInfo with SignedData over TSTInfo) for a message imprint. */
  token(request: TimeStampRequestData): pkijs.ContentInfo {
    // Whole seconds: DER forbids trailing zeros in fractions, and the stated accuracy is seconds anyway.
    const genTime = new Date(Math.floor(Date.now() / 1000) * 1000);
    const tstInfo = new pkijs.TSTInfo({
      version: 1,
      policy: this.options.policyOid,
      messageImprint: new pkijs.MessageImprint({
        hashAlgorithm: algorithm(request.hashOid),
        hashedMessage: new asn1js.OctetString({ valueHex: request.hashedMessage }),
      }),
      serialNumber: this.serials.next(),
      genTime,
      accuracy: new pkijs.Accuracy({ seconds: this.options.accuracySeconds }),
      ...(request.nonce ? { nonce: request.nonce } : {}),
    });
    const tstInfoDer = Buffer.from(tstInfo.toSchema().toBER());
    const tsa = this.pki.tsa;
    const signedAttrs = sortedSignedAttributes([
      attribute(OID.contentTypeAttr, new asn1js.ObjectIdentifier({ value: OID.tstInfo })),
      attribute(OID.signingTimeAttr, new asn1js.UTCTime({ valueDate: genTime })),
      attribute(
        OID.messageDigestAttr,
        new asn1js.OctetString({ valueHex: createHash("sha256").update(tstInfoDer).digest() }),
      ),
      signingCertificateV2(tsa),
    ]);
    const signerInfo = new pkijs.SignerInfo({
      version: 1,
      sid: issuerAndSerial(tsa),
      digestAlgorithm: algorithm(OID.sha256),
      signedAttrs,
      signatureAlgorithm: sha256WithRsa(),
      signature: new asn1js.OctetString({
        valueHex: signWithEntity(tsa, signedAttributesForSigning(signedAttrs)),
      }),
    });
    const signedData = new pkijs.SignedData({
      version: 3,
      digestAlgorithms: [algorithm(OID.sha256)],
      encapContentInfo: new pkijs.EncapsulatedContentInfo({
        eContentType: OID.tstInfo,
        eContent: new asn1js.OctetString({ valueHex: tstInfoDer }),
      }),
      // RFC 3161: with certReq the TSA certificate must be included; the issuing CA comes along so
      // that a verifier only needs the root.
      ...(request.certReq
        ? { certificates: [pkijsCertificate(tsa), pkijsCertificate(this.pki.issuing)] }
        : {}),
      signerInfos: [signerInfo],
    });
    return new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(true) });
  }
}

function rejection(failureBit: number, text: string): Buffer {
  const bytes = Buffer.alloc(Math.floor(failureBit / 8) + 1);
  bytes[bytes.length - 1] = 0x80 >> (failureBit % 8);
  const status = new pkijs.PKIStatusInfo({
    status: 2,
    statusStrings: [new asn1js.Utf8String({ value: text })],
    failInfo: new asn1js.BitString({ valueHex: bytes, unusedBits: 7 - (failureBit % 8) }),
  });
  return Buffer.from(new pkijs.TimeStampResp({ status }).toSchema().toBER());
}
