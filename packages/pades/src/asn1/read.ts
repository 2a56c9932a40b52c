import { type ErrorCode, EsignError } from "@esign/errors";
import * as asn1js from "asn1js";

/**
 * Reading side of our ASN.1 handling: asn1js parses BER (signatures made by other tools may use
 * indefinite lengths), and we take the original bytes of each element from it so that anything
 * hashed or re-embedded is exactly what was there.
 */
export type Block = asn1js.AsnType;

export function parseBer(bytes: Uint8Array, what: string, code: ErrorCode): Block {
  const parsed = asn1js.fromBER(bytes);
  if (parsed.offset === -1 || parsed.result.error) {
    throw new EsignError(code, `${what} is not valid ASN.1: ${parsed.result.error || "parse error"}`);
  }
  return parsed.result;
}

/** The element's own encoding (tag, length, content), as it appeared in the input. */
export function rawBytes(block: Block): Uint8Array {
  return new Uint8Array(block.valueBeforeDecodeView);
}

export function children(block: Block | undefined): Block[] {
  const value = (block?.valueBlock as { value?: unknown } | undefined)?.value;
  return Array.isArray(value) ? (value as Block[]) : [];
}

export function isContextTag(block: Block, tagNumber: number): boolean {
  return block.idBlock.tagClass === 3 && block.idBlock.tagNumber === tagNumber;
}

export function oidOf(block: Block | undefined): string | undefined {
  return block instanceof asn1js.ObjectIdentifier ? block.valueBlock.toString() : undefined;
}

/** UTCTime or GeneralizedTime (asn1js derives the latter from the former). */
export function timeOf(block: Block | undefined): Date | undefined {
  return block instanceof asn1js.UTCTime ? block.toDate() : undefined;
}

/** A small INTEGER or ENUMERATED (versions, status codes), as a number. */
export function smallIntegerOf(block: Block | undefined): number | undefined {
  return block instanceof asn1js.Integer || block instanceof asn1js.Enumerated
    ? block.valueBlock.valueDec
    : undefined;
}

/** Content octets of a (possibly BER-constructed) OCTET STRING or an IMPLICIT-tagged one. */
export function octetsOf(block: Block): Uint8Array {
  const parts = children(block);
  if (block.idBlock.isConstructed) return concatAll(parts.map(octetsOf));
  return new Uint8Array((block.valueBlock as unknown as { valueHexView: Uint8Array }).valueHexView);
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}
