/**
 * /v1/batches on the agent started the way a user starts it (`pnpm start`): the source-prefix
 * contract, progress, the result manifest, and tenant isolation.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BatchManifestLineSchema } from "@esign/jobs";
import { SAMPLES_DIR } from "@esign/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";

const GOOD = 6;

let agent: RunningAgent;
let base: string;
let objects: string;
let DEV_KEY: string;
let OTHER_KEY: string;

/** Puts a file into the local `default` store the way an operator's sync job would: on disk. */
async function putObject(key: string, body: Uint8Array | string): Promise<void> {
  const path = join(objects, key);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, body);
}

beforeAll(async () => {
  agent = await startAllInOne();
  ({ base, devKey: DEV_KEY, otherKey: OTHER_KEY } = agent);
  objects = join(agent.dataDir, "objects");
  const pdf = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
  for (let index = 0; index < GOOD; index++) await putObject(`in/part-${index % 2}/doc-${index}.pdf`, pdf);
  await putObject("in/broken.pdf", "this is not a PDF\n");
}, 90_000);

afterAll(() => agent?.stop());

// biome-ignore lint/suspicious/noExplicitAny: bodies are asserted field by field where they are read
const json = async (response: Response) => (await response.json()) as Record<string, any>;

function call(method: string, path: string, body?: unknown, key = DEV_KEY) {
  return fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe("POST/GET/DELETE /v1/batches", () => {
  it("signs every PDF under a source prefix into the target prefix and reports a manifest", async () => {
    const created = await call("POST", "/v1/batches", {
      source: { store: "default", prefix: "in/" },
      target: { store: "default", prefix: "out/" },
    });
    expect(created.status, await created.clone().text()).toBe(202);
    const { id } = await json(created);
    expect(typeof id).toBe("string");

    let status = await json(await call("GET", `/v1/batches/${id}`));
    for (let i = 0; i < 600; i++) {
      const response = await call("GET", `/v1/batches/${id}`);
      expect(response.status).toBe(200);
      status = await json(response);
      if (status.state === "completed") break;
      expect(["submitting", "running", "finishing"]).toContain(status.state);
      await new Promise((done) => setTimeout(done, 250));
    }
    expect(status.state).toBe("completed");
    expect(status.counts).toEqual({ total: GOOD + 1, pending: 0, completed: GOOD, failed: 1, cancelled: 0 });
    expect(status.etaSeconds).toBe(0);
    expect(status.manifest.store).toBe("default");

    const lines = (await readFile(join(objects, status.manifest.key), "utf8"))
      .trimEnd()
      .split("\n")
      .map((line) => BatchManifestLineSchema.parse(JSON.parse(line)));
    expect(lines).toHaveLength(GOOD + 1);
    for (const line of lines) {
      expect(line.output!.key).toBe(line.input!.key.replace(/^in\//, "out/"));
      if (line.input!.key === "in/broken.pdf") {
        expect(line).toMatchObject({
          status: "failed",
          errorCode: expect.stringMatching(/^E_(NOT_PDF|PDF_CORRUPT)$/),
        });
      } else {
        expect(line.status).toBe("completed");
        const signed = await readFile(join(objects, line.output!.key));
        expect(signed.includes(Buffer.from("/ByteRange"))).toBe(true);
      }
    }

    // Finished batches have nothing to cancel; other tenants cannot see the batch at all.
    expect(await json(await call("DELETE", `/v1/batches/${id}`))).toEqual({
      cancelled: 0,
      state: "completed",
    });
    expect((await call("GET", `/v1/batches/${id}`, undefined, OTHER_KEY)).status).toBe(404);
  });

  it("refuses malformed batches (400) and prefixes outside the tenant's (403)", async () => {
    const withoutTarget = await call("POST", "/v1/batches", { source: { store: "default", prefix: "in/" } });
    expect(withoutTarget.status).toBe(400);
    const overlapping = await call("POST", "/v1/batches", {
      source: { store: "default", prefix: "in/" },
      target: { store: "default", prefix: "in/signed/" },
    });
    expect(overlapping.status).toBe(400);
    const foreign = await call(
      "POST",
      "/v1/batches",
      { source: { store: "default", prefix: "in/" }, target: { store: "default", prefix: "other/out/" } },
      OTHER_KEY,
    );
    expect(foreign.status).toBe(403);
    expect((await json(foreign)).error.code).toBe("E_FORBIDDEN");
  });

  it("refuses an item whose output the store cannot write before anything is signed", async () => {
    const underAFile = await call("POST", "/v1/batches", {
      items: [
        {
          input: { store: "default", key: "in/part-0/doc-0.pdf" },
          output: { store: "default", key: "in/broken.pdf/signed.pdf" },
        },
      ],
    });
    expect(underAFile.status).toBe(400);
    expect((await json(underAFile)).error.code).toBe("E_INVALID_JOB");
  });

  it("signs a prefix-limited tenant's items without outputs into its own area (inline and listed)", async () => {
    const pdf = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
    await putObject("other/in/a.pdf", pdf);
    await putObject("other/in/b.pdf", pdf);
    const listed = { input: { store: "default", key: "other/in/b.pdf" } };
    await putObject("other/lists/items.jsonl", `${JSON.stringify(listed)}\n`);
    const batches = [
      { items: [{ input: { store: "default", key: "other/in/a.pdf" } }] },
      { itemsManifest: { store: "default", key: "other/lists/items.jsonl" } },
    ];
    for (const batch of batches) {
      const created = await call("POST", "/v1/batches", batch, OTHER_KEY);
      expect(created.status, await created.clone().text()).toBe(202);
      const { id } = await json(created);
      let status = await json(await call("GET", `/v1/batches/${id}`, undefined, OTHER_KEY));
      for (let i = 0; i < 600 && status.state !== "completed"; i++) {
        await new Promise((done) => setTimeout(done, 250));
        status = await json(await call("GET", `/v1/batches/${id}`, undefined, OTHER_KEY));
      }
      expect(status.counts, JSON.stringify(status)).toMatchObject({ total: 1, completed: 1, failed: 0 });
    }
    for (const name of ["a.pdf", "b.pdf"]) {
      const signed = await readFile(join(objects, "other/signed/in", name));
      expect(signed.subarray(0, pdf.length).equals(pdf)).toBe(true);
      expect(signed.length).toBeGreaterThan(pdf.length);
    }
  });
});
