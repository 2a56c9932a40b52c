import { EsignError } from "@esign/errors";
import { type StoresConfig, StoresConfigSchema } from "./config";
import { assertValidKey } from "./keys";
import { LocalStore } from "./local";
import type { ObjectRef } from "./ref";
import { S3Store, type S3StoreOptions } from "./s3";
import type { ObjectStore } from "./store";

export interface StoreRegistry {
  /** The store called `name`; E_INVALID_JOB if no such store is configured. */
  get(name: string): ObjectStore;
  /** The store an object reference points into, with the key checked. */
  resolve(ref: ObjectRef): { store: ObjectStore; key: string };
  names(): string[];
  close(): Promise<void>;
}

/** Builds one store per configured name. The configuration is validated (E_CONFIG). */
export function createStores(config: StoresConfig, options: S3StoreOptions = {}): StoreRegistry {
  const parsed = StoresConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new EsignError("E_CONFIG", `invalid store configuration: ${parsed.error.message}`);
  }
  const stores = new Map<string, ObjectStore>(
    Object.entries(parsed.data).map(([name, store]) => [
      name,
      store.type === "s3" ? new S3Store(name, store, options) : new LocalStore(name, store),
    ]),
  );

  const get = (name: string): ObjectStore => {
    const store = stores.get(name);
    if (!store) throw new EsignError("E_INVALID_JOB", `no object store named ${JSON.stringify(name)}`);
    return store;
  };

  return {
    get,
    resolve(ref) {
      const store = get(ref.store);
      assertValidKey(ref.key);
      return { store, key: ref.key };
    },
    names: () => [...stores.keys()],
    async close() {
      await Promise.all([...stores.values()].map((store) => store.close()));
    },
  };
}
