import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { readChunks } from "@esign/pdf";
import type { ObjectRef, StoreRegistry } from "@esign/storage";
import type { FastifyReply } from "fastify";
import type { Caller } from "../auth";
import { uploadArea } from "../tenancy";

/**
 * Where an uploaded document of this tenant is stored (a fresh key nobody else can guess) and where
 * its signed copy goes: both in the tenant's upload area, so inside a prefix-limited tenant's area.
 */
export function uploadRefs(caller: Caller): { input: ObjectRef; output: ObjectRef } {
  const prefix = uploadArea(caller, `uploads/${caller.tenantId}/`);
  const name = `${new Date().toISOString().slice(0, 10)}/${randomUUID()}.pdf`;
  const store = caller.tenant.uploadStore;
  return { input: { store, key: `${prefix}${name}` }, output: { store, key: `${prefix}signed/${name}` } };
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
