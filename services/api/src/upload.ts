import type { Readable } from "node:stream";
import { EsignError, isEsignError } from "@esign/errors";
import type { ObjectStore, WrittenObject } from "@esign/storage";

/** PDF readers accept the header anywhere in the first KiB (some producers put junk before it). */
const HEADER_WINDOW = 1024;
const PDF_MAGIC = Buffer.from("%PDF-");

export interface UploadLimits {
  maxBytes: number;
}

/**
 * Passes the request body through while counting it and checking the PDF header, so an upload is
 * never held in memory: over the limit it fails with E_TOO_LARGE as soon as the limit is crossed,
 * and a body that is not a PDF fails with E_NOT_PDF after its first KiB.
 */
export async function* checkedPdfBody(
  body: AsyncIterable<Uint8Array>,
  limits: UploadLimits,
): AsyncGenerator<Uint8Array> {
  let received = 0;
  let head = Buffer.alloc(0);
  let headerSeen = false;
  for await (const chunk of clientBody(body)) {
    received += chunk.length;
    if (received > limits.maxBytes) {
      throw new EsignError(
        "E_TOO_LARGE",
        `the document is larger than the limit of ${limits.maxBytes} bytes`,
      );
    }
    if (!headerSeen) {
      head = Buffer.concat([head, chunk]).subarray(0, HEADER_WINDOW + PDF_MAGIC.length);
      headerSeen = head.subarray(0, HEADER_WINDOW + PDF_MAGIC.length).includes(PDF_MAGIC);
      if (!headerSeen && head.length >= HEADER_WINDOW + PDF_MAGIC.length) {
        throw new EsignError("E_NOT_PDF", "the body is not a PDF (no %PDF- header in its first KiB)");
      }
    }
    yield chunk;
  }
  if (!headerSeen) throw new EsignError("E_NOT_PDF", "the body is not a PDF (no %PDF- header)");
}

/**
 * The body as sent; a body that breaks off (the client left, stalled past the request timeout, or
 * sent broken multipart framing) is the client's doing: E_UPLOAD_ABORTED, not an internal error.
 */
async function* clientBody(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (error) {
    if (isEsignError(error)) throw error;
    throw new EsignError("E_UPLOAD_ABORTED", "the upload ended before the whole document arrived", {
      cause: error,
    });
  }
}

/** Streams an uploaded PDF into `store` under `key`; nothing is stored when it fails. */
export async function storeUpload(
  store: ObjectStore,
  key: string,
  body: Readable,
  declaredLength: number | undefined,
  limits: UploadLimits,
): Promise<WrittenObject> {
  if (declaredLength !== undefined && declaredLength > limits.maxBytes) {
    throw new EsignError("E_TOO_LARGE", `the document is larger than the limit of ${limits.maxBytes} bytes`);
  }
  try {
    return await store.write(key, checkedPdfBody(body, limits), { contentType: "application/pdf" });
  } catch (error) {
    await store.delete(key).catch(() => undefined);
    throw error;
  }
}
