import { randomUUID } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { EsignError } from "@esign/errors";
import { dataDirQueuePrefix, SigningClient, type SignJobInput } from "@esign/jobs";
import { writeSignedPdf } from "@esign/pipeline";
import {
  createStores,
  DEFAULT_STORE,
  defaultStoresConfig,
  type ObjectRef,
  StoresConfigSchema,
} from "@esign/storage";
import { Redis } from "ioredis";
import { asUsageError, LEVELS, type Level, userPath } from "./args";

/**
 * Same settings as the services: REDIS_URL, ESIGN_QUEUE_PREFIX, ESIGN_STORES (JSON), else the
 * all-in-one's defaults for ESIGN_DATA_DIR (its store and its prefix).
 */
function environment() {
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const dataDir = userPath(process.env.ESIGN_DATA_DIR ?? ".data");
  const prefix =
    process.env.ESIGN_QUEUE_PREFIX ?? (process.env.ESIGN_STORES ? undefined : dataDirQueuePrefix(dataDir));
  const stores = process.env.ESIGN_STORES
    ? StoresConfigSchema.parse(JSON.parse(process.env.ESIGN_STORES))
    : defaultStoresConfig(dataDir);
  return { redisUrl, prefix, stores };
}

function parseRef(text: string): ObjectRef {
  const colon = text.indexOf(":");
  if (colon <= 0) throw new EsignError("E_CONFIG", `object reference must be STORE:KEY, got "${text}"`);
  return { store: text.slice(0, colon), key: text.slice(colon + 1) };
}

async function withClient<T>(
  run: (client: SigningClient, stores: ReturnType<typeof createStores>) => Promise<T>,
) {
  const { redisUrl, prefix, stores: storesConfig } = environment();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  await redis.connect().catch((cause: unknown) => {
    throw new EsignError("E_UNAVAILABLE", `cannot reach Redis at ${redisUrl}`, { cause });
  });
  const client = new SigningClient({ connection: redis, prefix });
  const stores = createStores(storesConfig);
  try {
    return await run(client, stores);
  } finally {
    await client.close();
    await stores.close();
    redis.disconnect();
  }
}

/**
 * `esign submit`: enqueue a local file (uploaded to a store first) or an object already in a store,
 * wait for the worker, and write the signed PDF to -o. What a producer does, from a shell.
 */
export async function submit(argv: string[]): Promise<number> {
  const { values, positionals } = asUsageError(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: "string", short: "o" },
        "output-ref": { type: "string" },
        signer: { type: "string", default: "default" },
        level: { type: "string", default: "B-B" },
        field: { type: "string" },
        reason: { type: "string" },
        timeout: { type: "string", default: "120" },
        "no-wait": { type: "boolean" },
      },
    }),
  );
  if (positionals.length !== 1) {
    throw new EsignError(
      "E_CONFIG",
      "usage: esign submit (FILE.pdf | STORE:KEY) [-o OUT.pdf] [--signer PROFILE] [--no-wait]",
    );
  }
  if (!LEVELS.includes(values.level as Level))
    throw new EsignError("E_CONFIG", `--level must be one of ${LEVELS.join(", ")}`);
  return withClient(async (client, stores) => {
    const target = positionals[0]!;
    let input: ObjectRef;
    // STORE:KEY names an object already stored; anything else is a local file to upload first.
    if (stores.names().includes(target.split(":")[0]!) && !existsSync(userPath(target))) {
      input = parseRef(target);
    } else {
      input = { store: DEFAULT_STORE, key: `cli/${randomUUID()}/${basename(target)}` };
      await stores
        .get(input.store)
        .write(input.key, createReadStream(userPath(target)), { contentType: "application/pdf" });
    }
    const job: SignJobInput = {
      input,
      output: values["output-ref"] ? parseRef(values["output-ref"]) : undefined,
      signer: values.signer,
      level: values.level as Level,
      field: { name: values.field, reason: values.reason },
    };
    const { id } = await client.submit(job);
    process.stdout.write(`${id}\n`);
    if (values["no-wait"]) return 0;
    const result = await client.waitFor(id, { timeoutMs: Number(values.timeout) * 1000 });
    if (values.output) {
      const { store, key } = stores.resolve(result.output);
      const source = await store.openSource(key);
      try {
        await writeSignedPdf(source, userPath(values.output));
      } finally {
        await source.close?.();
      }
    }
    process.stderr.write(
      `signed ${result.output.store}:${result.output.key} (${result.level}, field ${result.fieldName})\n`,
    );
    return 0;
  });
}

/** `esign status ID`: the job's state, result or error as JSON. */
export async function status(argv: string[]): Promise<number> {
  const { positionals } = asUsageError(() => parseArgs({ args: argv, allowPositionals: true, options: {} }));
  if (positionals.length !== 1) throw new EsignError("E_CONFIG", "usage: esign status JOB_ID");
  return withClient(async (client) => {
    const { job, ...rest } = await client.get(positionals[0]!);
    process.stdout.write(`${JSON.stringify({ ...rest, input: job.input, output: job.output }, null, 2)}\n`);
    return rest.state === "failed" ? 1 : 0;
  });
}
