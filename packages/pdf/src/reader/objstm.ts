import type { ByteSource } from "../io/source";
import { decodeStream } from "../syntax/filters";
import { asInteger, isName, type PdfObject, type PdfStream } from "../syntax/objects";
import { Parser } from "../syntax/parser";
import { corrupt, limitExceeded, type PdfLimits } from "./limits";
import { readStreamData } from "./xref";

/** A decoded object stream: its data and where each contained object starts in it. */
export interface ObjectStream {
  data: Uint8Array;
  /** [object number, offset in `data`] in stream order. */
  members: Array<[number, number]>;
}

/** `decrypt`: for encrypted documents, turns the stored data into the filtered data. */
export async function decodeObjectStream(
  source: ByteSource,
  stream: PdfStream,
  limits: PdfLimits,
  decrypt: (data: Uint8Array) => Uint8Array = (data) => data,
): Promise<ObjectStream> {
  if (!isName(stream.dict.get("Type"), "ObjStm")) throw corrupt("expected an object stream");
  const count = asInteger(stream.dict.get("N"));
  const first = asInteger(stream.dict.get("First"));
  if (count === undefined || first === undefined || count < 0 || first < 0) {
    throw corrupt("object stream without valid /N and /First");
  }
  if (count > limits.maxObjects) throw limitExceeded(`object stream claims ${count} objects`);
  const data = decodeStream(
    stream.dict,
    decrypt(await readStreamData(source, stream, limits)),
    limits.maxDecodedStreamBytes,
  );
  const header = new Parser(data.subarray(0, Math.min(first, data.length)), 4, true);
  const members: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    const num = header.tryUnsigned();
    const offset = header.tryUnsigned();
    if (num === undefined || offset === undefined) break;
    members.push([num, first + offset]);
  }
  return { data, members };
}

/** Parses the object at `index` of an object stream. */
export function objectStreamMember(objectStream: ObjectStream, index: number, limits: PdfLimits): PdfObject {
  const member = objectStream.members[index];
  if (!member) throw corrupt(`object stream has no member ${index}`);
  const parser = new Parser(objectStream.data, limits.maxNestingDepth, true, member[1]);
  return parser.parseObject();
}
