import { type BatchItemSource, targetKeyOf } from "@esign/jobs";
import type { ObjectStore, StoreRegistry } from "@esign/storage";
import type { Redis } from "ioredis";

/** One item read from a batch's source, in source order. */
export interface SourcedItem {
  index: number;
  /** The item as found (validated later, so a bad one becomes a failed manifest line, not a failed batch). */
  raw: unknown;
  /** Why the item could not even be read (e.g. a manifest line that is not JSON). */
  unreadable?: string;
  /** The listed key, for resuming a prefix listing (prefix form only). */
  listedKey?: string;
}

export interface ResumePoint {
  /** Items already read and turned into jobs or rejections. */
  seen: number;
  /** Last listed key of a prefix listing. */
  lastKey?: string;
}

/** Manifests are read in windows this big: a 100k-line manifest never sits in memory whole. */
const MANIFEST_WINDOW = 1024 * 1024;

/** Items of a batch from `resume` on; the order is stable, so indexes (and job ids) are too. */
export function readBatchItems(
  source: BatchItemSource,
  resume: ResumePoint,
  context: { redis: Redis; itemsKey: string; stores: StoreRegistry; pageSize: number },
): AsyncIterable<SourcedItem> {
  switch (source.kind) {
    case "list":
      return listItems(context.redis, context.itemsKey, resume.seen, context.pageSize);
    case "manifest":
      return manifestItems(context.stores.get(source.manifest.store), source.manifest.key, resume.seen);
    case "prefix":
      return prefixItems(context.stores.get(source.source.store), source, resume);
  }
}

async function* listItems(
  redis: Redis,
  key: string,
  from: number,
  pageSize: number,
): AsyncIterable<SourcedItem> {
  for (let start = from; ; start += pageSize) {
    const page = await redis.lrange(key, start, start + pageSize - 1);
    for (const [offset, line] of page.entries()) yield { index: start + offset, ...parseLine(line) };
    if (page.length < pageSize) return;
  }
}

async function* manifestItems(store: ObjectStore, key: string, skip: number): AsyncIterable<SourcedItem> {
  let index = 0;
  for await (const line of jsonLines(store, key)) {
    if (index >= skip) yield { index, ...parseLine(line) };
    index += 1;
  }
}

async function* prefixItems(
  store: ObjectStore,
  { source, target }: Extract<BatchItemSource, { kind: "prefix" }>,
  resume: ResumePoint,
): AsyncIterable<SourcedItem> {
  let index = resume.seen;
  const listing = store.list(source.prefix, resume.lastKey ? { startAfter: resume.lastKey } : {});
  for await (const object of listing) {
    if (!object.key.toLowerCase().endsWith(".pdf")) continue;
    yield {
      index: index++,
      listedKey: object.key,
      raw: {
        input: { store: source.store, key: object.key },
        output: { store: target.store, key: targetKeyOf(object.key, source, target) },
      },
    };
  }
}

function parseLine(line: string): Pick<SourcedItem, "raw" | "unreadable"> {
  try {
    return { raw: JSON.parse(line) as unknown };
  } catch {
    return { raw: undefined, unreadable: `not a JSON line: ${line.slice(0, 80)}` };
  }
}

/** Non-blank lines of a stored text object, read window by window. */
async function* jsonLines(store: ObjectStore, key: string): AsyncIterable<string> {
  const source = await store.openSource(key);
  try {
    const decoder = new TextDecoder();
    let pending = "";
    for (let offset = 0; offset < source.size; offset += MANIFEST_WINDOW) {
      const lines = (
        pending + decoder.decode(await source.read(offset, MANIFEST_WINDOW), { stream: true })
      ).split("\n");
      pending = lines.pop()!;
      for (const line of lines) if (line.trim()) yield line;
    }
    pending += decoder.decode();
    if (pending.trim()) yield pending;
  } finally {
    await source.close?.();
  }
}
