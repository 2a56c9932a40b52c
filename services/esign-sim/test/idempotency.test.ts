import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceError } from "../src/http/service-error";
import { IdempotencyStore } from "../src/idempotency";
import type { Simulator } from "../src/index";
import { cscClient, http, startWithTestPki } from "./helpers";

const digest = (text: string) => createHash("sha256").update(text).digest("base64");
const signHash = (...texts: string[]) => ({
  credentialID: "seal-rsa",
  hashes: texts.map(digest),
  signAlgo: "1.2.840.113549.1.1.11",
});

describe("Idempotency-Key on the billed sign calls", () => {
  let simulator: Simulator;

  beforeAll(async () => {
    simulator = await startWithTestPki({
      clients: [
        { id: "demo", secret: "demo-secret", apiKeys: ["demo-key"] },
        { id: "other", secret: "other-secret", apiKeys: ["other-key"] },
      ],
      idempotencyRetentionSeconds: 2,
    });
  });
  afterAll(() => simulator.close());

  const cms = (key: string | undefined, text: string, apiKey = "demo-key") =>
    http(`${simulator.url}/esign/v1/sign`, {
      json: { credentialId: "seal-rsa", digest: digest(text), digestAlgorithm: "sha256", level: "B-T" },
      headers: { "x-api-key": apiKey, ...(key === undefined ? {} : { "idempotency-key": key }) },
    });

  it("CMS mode: the same key and body get the stored answer again, not billed; another body is 422", async () => {
    simulator.resetUsage();
    const first = await cms("cms-key-1", "document one");
    expect(first.status).toBe(200);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await cms("cms-key-1", "document one");
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    // The stored answer, byte for byte (a fresh B-T signature would carry another time-stamp).
    expect(again.json()).toEqual(first.json());

    const reused = await cms("cms-key-1", "document two");
    expect(reused.status).toBe(422);
    expect(reused.json().error).toBe("idempotency_key_reused");

    // Without a key every call is billed.
    await cms(undefined, "document one");
    await cms(undefined, "document one");
    expect(simulator.usage().clients.demo).toMatchObject({ signCalls: 3, signatures: 3, replays: 1 });
  });

  it("CSC signHash: replays per client, keys scoped per client, the SAD not part of the request's identity", async () => {
    simulator.resetUsage();
    const demo = await cscClient(simulator);
    const other = await cscClient(simulator, "other", "other-secret");
    const send = (clientId: string, secret: string, key: string, body: object) =>
      http(`${simulator.url}/csc/v2/oauth2/token`, {
        json: { grant_type: "client_credentials", client_id: clientId, client_secret: secret },
      }).then((token) =>
        http(`${simulator.url}/csc/v2/signatures/signHash`, {
          json: body,
          headers: { authorization: `Bearer ${token.json().access_token}`, "idempotency-key": key },
        }),
      );
    const batch = signHash("a", "b", "c");
    const first = await send("demo", "demo-secret", "batch-1", batch);
    expect(first.status).toBe(200);
    expect(first.json().signatures).toHaveLength(3);
    const replay = await send("demo", "demo-secret", "batch-1", { ...batch, SAD: undefined });
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.json()).toEqual(first.json());

    // Another client's key space: the same key is a new request there, billed to that client.
    const foreign = await send("other", "other-secret", "batch-1", signHash("x"));
    expect(foreign.status).toBe(200);
    expect(foreign.headers.get("idempotent-replayed")).toBeNull();
    expect(foreign.json().signatures).toHaveLength(1);

    // Another batch under the same key: refused, nothing billed.
    const reordered = await send("demo", "demo-secret", "batch-1", signHash("c", "b", "a"));
    expect(reordered.status).toBe(422);

    const usage = simulator.usage();
    expect(usage.clients.demo).toMatchObject({ signCalls: 1, signatures: 3, replays: 1 });
    expect(usage.clients.other).toMatchObject({ signCalls: 1, signatures: 1, replays: 0 });
    // Plain calls of the client helper carry no key and are billed each time.
    expect((await demo("signatures/signHash", batch)).status).toBe(200);
    expect((await other("signatures/signHash", batch)).status).toBe(200);
    expect(simulator.usage().signCalls).toBe(4);
  });

  it("stores no failed request and forgets keys after the retention", async () => {
    simulator.resetUsage();
    simulator.setFaults({ routes: ["sign"], errorRate: 1 });
    expect((await cms("failing-key", "failing document")).status).toBe(503);
    simulator.clearFaults();
    const afterFailure = await cms("failing-key", "failing document");
    expect(afterFailure.status).toBe(200);
    expect(afterFailure.headers.get("idempotent-replayed")).toBeNull();

    expect((await cms("bad key with spaces", "x")).status).toBe(400);

    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const expired = await cms("failing-key", "another document");
    expect(expired.status).toBe(200);
    expect(simulator.usage().clients.demo).toMatchObject({ signCalls: 2, replays: 0 });
  });
});

describe("IdempotencyStore", () => {
  it("answers 409 (retry later) while the first request with a key is still running", async () => {
    const store = new IdempotencyStore(60_000);
    let finish: (value: string) => void = () => undefined;
    const first = store.once("demo", "k", "f", () => new Promise<string>((resolve) => (finish = resolve)));
    const concurrent = await store.once("demo", "k", "f", async () => "second").catch((error) => error);
    expect(concurrent).toBeInstanceOf(ServiceError);
    expect(concurrent).toMatchObject({ statusCode: 409, error: "request_in_progress" });
    // Another client is not held up by it.
    expect(await store.once("other", "k", "f", async () => "other")).toEqual({
      answer: "other",
      replayed: false,
    });
    finish("first");
    expect(await first).toEqual({ answer: "first", replayed: false });
    expect(await store.once("demo", "k", "f", async () => "third")).toEqual({
      answer: "first",
      replayed: true,
    });
  });
});
