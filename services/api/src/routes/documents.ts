import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { EsignError } from "@esign/errors";
import { readChunks } from "@esign/pdf";
import { DEFAULT_BLOCK_SIZE, type ObjectRef, type StoreRegistry } from "@esign/storage";
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

/**
 * Sends a stored PDF as the response body: a document of at most one store block (the size the
 * stores read whole when they open it) in one piece, a larger one streamed, the source closed when
 * the client has it all (or left).
 */
export async function sendStoredPdf(
  reply: FastifyReply,
  stores: StoreRegistry,
  ref: ObjectRef,
  headers: Record<string, string> = {},
): Promise<FastifyReply> {
  const { store, key } = stores.resolve(ref);
  const source = await store.openSource(key);
  reply.type("application/pdf").header("content-length", String(source.size)).headers(headers);
  if (source.size > DEFAULT_BLOCK_SIZE) {
    const body = Readable.from(readChunks(source));
    body.on("close", () => void source.close?.());
    return reply.send(body);
  }
  const bytes = await source.read(0, source.size).finally(() => source.close?.());
  if (bytes.length !== source.size) {
    throw new EsignError("E_STORAGE", `${ref.store}:${ref.key} is shorter than its size while being read`);
  }
  return reply.send(bytes);
}
