import { constants, inflateSync } from "node:zlib";
import { corrupt, limitExceeded } from "../reader/limits";
import { asDict, asInteger, isName, type PdfDict, type PdfObject } from "./objects";

/**
 * Decodes the filters the reader needs for xref streams and object streams (FlateDecode with
 * PNG/TIFF predictors). Output is capped at `maxBytes` so a zip bomb fails with E_PDF_LIMIT.
 */
export function decodeStream(dict: PdfDict, raw: Uint8Array, maxBytes: number): Uint8Array {
  const filter = dict.get("Filter");
  const filters = Array.isArray(filter) ? filter : filter === undefined || filter === null ? [] : [filter];
  const parmsValue = dict.get("DecodeParms") ?? dict.get("DP");
  const parms = Array.isArray(parmsValue) ? parmsValue : [parmsValue];
  let data = raw;
  filters.forEach((item, index) => {
    if (isName(item, "FlateDecode") || isName(item, "Fl")) {
      data = inflate(data, maxBytes);
      data = unpredict(data, asDict(parms[index] as PdfObject | undefined));
    } else if (isName(item, "Crypt")) {
      // Decryption happened before decoding (the document's security handler applies /Crypt).
    } else {
      const label = isName(item) ? item.name : String(item);
      throw corrupt(`unsupported filter /${label} on an xref or object stream`);
    }
  });
  if (data.length > maxBytes) throw limitExceeded(`decoded stream is larger than ${maxBytes} bytes`);
  return data;
}

function inflate(data: Uint8Array, maxBytes: number): Uint8Array {
  try {
    // Sync flush tolerates a truncated deflate stream, which some producers emit.
    return inflateSync(data, { maxOutputLength: maxBytes, finishFlush: constants.Z_SYNC_FLUSH });
  } catch (error) {
    if (error instanceof RangeError || (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw limitExceeded(`decompressed stream exceeds ${maxBytes} bytes`);
    }
    throw corrupt("invalid FlateDecode data", error);
  }
}

function unpredict(data: Uint8Array, parms: PdfDict | undefined): Uint8Array {
  const predictor = asInteger(parms?.get("Predictor")) ?? 1;
  if (predictor === 1) return data;
  const colors = asInteger(parms?.get("Colors")) ?? 1;
  const bitsPerComponent = asInteger(parms?.get("BitsPerComponent")) ?? 8;
  const columns = asInteger(parms?.get("Columns")) ?? 1;
  if (colors < 1 || colors > 32 || ![1, 2, 4, 8, 16].includes(bitsPerComponent) || columns < 1) {
    throw corrupt("invalid predictor parameters");
  }
  const bytesPerPixel = Math.max(1, Math.ceil((colors * bitsPerComponent) / 8));
  const rowLength = Math.ceil((colors * bitsPerComponent * columns) / 8);
  if (predictor === 2) return tiffPredictor(data, rowLength, bytesPerPixel, bitsPerComponent);
  if (predictor >= 10) return pngPredictor(data, rowLength, bytesPerPixel);
  throw corrupt(`unsupported predictor ${predictor}`);
}

function tiffPredictor(data: Uint8Array, rowLength: number, bytesPerPixel: number, bits: number): Uint8Array {
  if (bits !== 8) throw corrupt("TIFF predictor supported only for 8-bit components");
  const out = Uint8Array.from(data);
  for (let row = 0; row + rowLength <= out.length; row += rowLength) {
    for (let i = bytesPerPixel; i < rowLength; i++)
      out[row + i] = (out[row + i]! + out[row + i - bytesPerPixel]!) & 0xff;
  }
  return out;
}

function pngPredictor(data: Uint8Array, rowLength: number, bytesPerPixel: number): Uint8Array {
  const rows = Math.floor(data.length / (rowLength + 1));
  const out = new Uint8Array(rows * rowLength);
  let previous = new Uint8Array(rowLength);
  for (let row = 0; row < rows; row++) {
    const inStart = row * (rowLength + 1);
    const type = data[inStart]!;
    const current = out.subarray(row * rowLength, (row + 1) * rowLength);
    for (let i = 0; i < rowLength; i++) {
      const raw = data[inStart + 1 + i]!;
      const left = i >= bytesPerPixel ? current[i - bytesPerPixel]! : 0;
      const up = previous[i]!;
      const upLeft = i >= bytesPerPixel ? previous[i - bytesPerPixel]! : 0;
      let value: number;
      switch (type) {
        case 0:
          value = raw;
          break;
        case 1:
          value = raw + left;
          break;
        case 2:
          value = raw + up;
          break;
        case 3:
          value = raw + ((left + up) >> 1);
          break;
        case 4:
          value = raw + paeth(left, up, upLeft);
          break;
        default:
          throw corrupt(`invalid PNG predictor row type ${type}`);
      }
      current[i] = value & 0xff;
    }
    previous = current;
  }
  return out;
}

function paeth(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const dLeft = Math.abs(estimate - left);
  const dUp = Math.abs(estimate - up);
  const dUpLeft = Math.abs(estimate - upLeft);
  if (dLeft <= dUp && dLeft <= dUpLeft) return left;
  return dUp <= dUpLeft ? up : upLeft;
}
