import { EsignError } from "@esign/errors";

function derInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const body = trimmed[0]! >= 0x80 ? Uint8Array.of(0, ...trimmed) : trimmed;
  return Uint8Array.of(0x02, body.length, ...body);
}

/**
 * ECDSA signatures come from HSMs (and some remote services) as raw r||s; CMS wants
 * DER SEQUENCE { INTEGER r, INTEGER s }. DER input is passed through unchanged.
 */
export function ecdsaSignatureToDer(signature: Uint8Array, fieldBytes: number): Uint8Array {
  if (signature[0] === 0x30 && signature.length !== 2 * fieldBytes) return signature;
  if (signature.length !== 2 * fieldBytes) {
    throw new EsignError(
      "E_SIGNER_BAD_RESPONSE",
      `an ECDSA signature on this curve is ${2 * fieldBytes} bytes raw, got ${signature.length}`,
    );
  }
  const content = [
    ...derInteger(signature.subarray(0, fieldBytes)),
    ...derInteger(signature.subarray(fieldBytes)),
  ];
  // Two P-521 integers take up to 2 * 69 bytes: past 127 the length needs its long form.
  const length = content.length < 0x80 ? [content.length] : [0x81, content.length];
  return Uint8Array.of(0x30, ...length, ...content);
}
