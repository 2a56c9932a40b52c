import { children, parseBer, rawBytes, timeOf } from "../asn1/read";
import { type SignedStructure, signedStructure } from "./signature";

export interface RevokedEntry {
  /** The userCertificate serial INTEGER as encoded. */
  serialNumber: Uint8Array;
  revokedAt: Date | undefined;
}

export interface ParsedCrl {
  signed: SignedStructure;
  /** The issuer Name, DER. */
  issuer: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  revoked: RevokedEntry[];
}

function malformed(what: string): never {
  throw new Error(`malformed CRL: ${what}`);
}

/** Parses a CertificateList (BER accepted); throws an Error saying what is malformed. */
export function parseCrl(der: Uint8Array): ParsedCrl {
  const top = parseBer(der, "CRL", "E_REVOCATION");
  const signed = signedStructure(top) ?? malformed("not a signed CertificateList");
  // TBSCertList { version INTEGER OPTIONAL (v1 lists have none), signature, issuer, thisUpdate,
  //   nextUpdate Time OPTIONAL, revokedCertificates SEQUENCE OF OPTIONAL, [0] crlExtensions }
  const fields = children(children(top)[0]);
  const first = fields[0]?.idBlock.tagNumber === 2 && !fields[0].idBlock.isConstructed ? 1 : 0;
  const [, issuer, thisUpdate, ...rest] = fields.slice(first);
  const nextUpdate = timeOf(rest[0]);
  const revokedList = rest.find((field) => field.idBlock.tagClass === 1 && field.idBlock.tagNumber === 16);
  return {
    signed,
    issuer: issuer ? rawBytes(issuer) : malformed("issuer"),
    thisUpdate: timeOf(thisUpdate) ?? malformed("thisUpdate"),
    nextUpdate,
    revoked: children(revokedList).map((entry) => {
      const [serial, revocationDate] = children(entry);
      return {
        serialNumber: serial ? rawBytes(serial) : malformed("revoked entry"),
        revokedAt: timeOf(revocationDate),
      };
    }),
  };
}
