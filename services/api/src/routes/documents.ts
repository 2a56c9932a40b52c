import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { readChunks } from "@esign/pdf";
import type { ObjectRef, StoreRegistry } from "@esign/storage";
import type { FastifyReply } from "fastify";
import type { Caller } from "../auth";

/** Where an uploaded document of this tenant is stored: a fresh key nobody else can guess. */
export function uploadRef(caller: Caller): ObjectRef {
  const prefix = caller.tenant.uploadPrefix ?? `uploads/${caller.tenantId}/`;
  const day = new Date().toISOString().slice(0, 10);
  return { store: caller.tenant.uploadStore, key: `${prefix}${day}/${randomUUID()}.pdf` };
}

/** Streams a stored PDF as the response body, closing the source when the client has it all (or left). */
export async function sendStoredPdf(
  reply: FastifyReply,
  stores: StoreRegistry,
  ref: ObjectRef,
  headers: Record<string, string> = {},
): Promise<FastifyReply> {
  const { store, key } = stores.resolve(ref);
  const source = await store.openSource(key);
  const body = Readable.from(readChunks(source));
  body.on("close", () => void source.close?.());
  return reply
    .type("application/pdf")
    .header("content-length", String(source.size))
    .headers(headers)
    .send(body);
}
