import { createHash } from "node:crypto";
import { X509CrlReason } from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { hashByOid, OID } from "./oids";
import type { Pki, PkiEntity } from "./pki";
import { normaliseSerial, type RevocationRegistry } from "./revocation";
import { algorithm, pkijsCertificate, sha256WithRsa, signWithEntity } from "./signing/cms-parts";

/** OCSPResponseStatus values (RFC 6960 4.2.1). */
const STATUS = { successful: 0, malformedRequest: 1, internalError: 2, unauthorized: 6 } as const;
const VALIDITY_MS = 3600 * 1000;

export type CertificateStatus = "good" | "revoked" | "unknown";

/**
 * One CA the responder answers for. Certificates of the issuing CA are answered by the delegated
 * responder (EKU OCSPSigning + ocsp-nocheck); the issuing CA's own certificate, issued by the root,
 * is answered with the root key itself, which RFC 6960 allows for a CA's own certificates.
 */
interface Authority {
  ca: PkiEntity;
  signer: PkiEntity;
  issuedSerials: Set<string>;
  nameDer: Buffer;
  keyBits: Buffer;
}

export class OcspResponder {
  private readonly authorities: Authority[];

  constructor(
    pki: Pki,
    private readonly revocations: RevocationRegistry,
  ) {
    const serials = (entities: PkiEntity[]) =>
      new Set(entities.map((entity) => normaliseSerial(entity.certificate.serialNumber)));
    this.authorities = [
      this.authority(pki.root, pki.root, serials([pki.issuing])),
      this.authority(
        pki.issuing,
        pki.ocspResponder,
        serials([pki.tsa, pki.ocspResponder, ...pki.credentials.values()]),
      ),
    ];
  }

  private authority(ca: PkiEntity, signer: PkiEntity, issuedSerials: Set<string>): Authority {
    const certificate = pkijsCertificate(ca);
    return {
      ca,
      signer,
      issuedSerials,
      nameDer: Buffer.from(certificate.subject.toSchema().toBER()),
      keyBits: Buffer.from(certificate.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
    };
  }

  /** Answers a DER OCSPRequest with a DER OCSPResponse; never throws for bad input. */
  respond(requestDer: Buffer): Buffer {
    let request: pkijs.OCSPRequest;
    try {
      request = pkijs.OCSPRequest.fromBER(requestDer);
    } catch {
      return statusOnly(STATUS.malformedRequest);
    }
    const certIds = request.tbsRequest.requestList.map((item) => item.reqCert);
    if (certIds.length === 0) return statusOnly(STATUS.malformedRequest);
    // One response has one signer: the authority of the first CertID answers; CertIDs of the
    // other CA in the same request are reported unknown rather than signed by a non-authority.
    const authority = this.authorityFor(certIds[0]!);
    if (!authority) return statusOnly(STATUS.unauthorized);
    const nonce = request.tbsRequest.requestExtensions?.find(
      (extension) => extension.extnID === OID.ocspNonce,
    );
    return this.signedResponse(
      authority,
      certIds.map((certId) => ({
        certId,
        status: this.authorityFor(certId) === authority ? this.statusOf(authority, certId) : "unknown",
      })),
      nonce,
    );
  }

  /** A signed response about one of the PKI's certificates, for the LTV bundle of the CMS mode. */
  responseFor(certificate: PkiEntity): Buffer {
    const issuer = certificate.certificate.issuer;
    const authority = this.authorities.find((candidate) => candidate.ca.certificate.subject === issuer);
    if (!authority) throw new RangeError(`No OCSP authority for ${certificate.certificate.subject}`);
    const certId = new pkijs.CertID({
      hashAlgorithm: algorithm(OID.sha1, true),
      issuerNameHash: new asn1js.OctetString({
        valueHex: createHash("sha1").update(authority.nameDer).digest(),
      }),
      issuerKeyHash: new asn1js.OctetString({
        valueHex: createHash("sha1").update(authority.keyBits).digest(),
      }),
      serialNumber: pkijsCertificate(certificate).serialNumber,
    });
    return this.signedResponse(authority, [{ certId, status: this.statusOf(authority, certId) }], undefined);
  }

  private authorityFor(certId: pkijs.CertID): Authority | undefined {
    const hash = hashByOid(certId.hashAlgorithm.algorithmId);
    if (!hash) return undefined;
    const nameHash = Buffer.from(certId.issuerNameHash.valueBlock.valueHexView);
    const keyHash = Buffer.from(certId.issuerKeyHash.valueBlock.valueHexView);
    return this.authorities.find(
      (authority) =>
        createHash(hash.name).update(authority.nameDer).digest().equals(nameHash) &&
        createHash(hash.name).update(authority.keyBits).digest().equals(keyHash),
    );
  }

  private statusOf(authority: Authority, certId: pkijs.CertID): CertificateStatus {
    const serial = normaliseSerial(Buffer.from(certId.serialNumber.valueBlock.valueHexView).toString("hex"));
    if (this.revocations.find(authority.ca.certificate.subject, serial)) return "revoked";
    return authority.issuedSerials.has(serial) ? "good" : "unknown";
  }

  private encodeStatus(
    authority: Authority,
    certId: pkijs.CertID,
    status: CertificateStatus,
  ): asn1js.AsnType {
    if (status === "good") return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 } });
    if (status === "unknown") return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 } });
    const serial = Buffer.from(certId.serialNumber.valueBlock.valueHexView).toString("hex");
    const revocation = this.revocations.find(authority.ca.certificate.subject, serial)!;
    return new asn1js.Constructed({
      idBlock: { tagClass: 3, tagNumber: 1 },
      value: [
        new asn1js.GeneralizedTime({ valueDate: new Date(revocation.revokedAt) }),
        new asn1js.Constructed({
          idBlock: { tagClass: 3, tagNumber: 0 },
          value: [new asn1js.Enumerated({ value: X509CrlReason[revocation.reason] })],
        }),
      ],
    });
  }

  private signedResponse(
    authority: Authority,
    items: { certId: pkijs.CertID; status: CertificateStatus }[],
    nonce: pkijs.Extension | undefined,
  ): Buffer {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const signerKeyBits = pkijsCertificate(authority.signer).subjectPublicKeyInfo.subjectPublicKey.valueBlock
      .valueHexView;
    const responseData = new pkijs.ResponseData({
      // ResponderID byKey: SHA-1 of the responder's public key bits.
      responderID: new asn1js.OctetString({ valueHex: createHash("sha1").update(signerKeyBits).digest() }),
      producedAt: now,
      responses: items.map(
        ({ certId, status }) =>
          new pkijs.SingleResponse({
            certID: certId,
            certStatus: this.encodeStatus(authority, certId, status),
            thisUpdate: now,
            nextUpdate: new Date(now.getTime() + VALIDITY_MS),
          }),
      ),
      ...(nonce ? { responseExtensions: [nonce] } : {}),
    });
    const tbs = new Uint8Array(responseData.toSchema(true).toBER());
    responseData.tbsView = tbs;
    const basic = new pkijs.BasicOCSPResponse({
      tbsResponseData: responseData,
      signatureAlgorithm: sha256WithRsa(),
      signature: new asn1js.BitString({ valueHex: signWithEntity(authority.signer, tbs) }),
      // The signer's certificate travels along, so clients find it without a separate lookup.
      certs: [pkijsCertificate(authority.signer)],
    });
    const response = new pkijs.OCSPResponse({
      responseStatus: new asn1js.Enumerated({ value: STATUS.successful }),
      responseBytes: new pkijs.ResponseBytes({
        responseType: OID.ocspBasic,
        response: new asn1js.OctetString({ valueHex: basic.toSchema().toBER() }),
      }),
    });
    return Buffer.from(response.toSchema().toBER());
  }
}

function statusOnly(status: number): Buffer {
  return Buffer.from(
    new pkijs.OCSPResponse({ responseStatus: new asn1js.Enumerated({ value: status }) }).toSchema().toBER(),
  );
}
