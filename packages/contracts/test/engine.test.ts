/**
 * The contract engine against a real Redis (127.0.0.1:6379) and a local store: signing order,
 * OTP checks and the lock after five failures, hashed secrets at rest, atomic transitions.
 * Signatures themselves run in the worker (test/contracts-e2e.test.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isEsignError } from "@esign/errors";
import { CONTRACTS_QUEUE, contractJobId } from "@esign/jobs";
import { createLogger } from "@esign/runtime";
import { createStores, type StoreRegistry } from "@esign/storage";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ContractRuntime,
  CreateContractSchema,
  createContractRuntime,
  hashAccessCode,
  hashToken,
  MAX_AUTH_ATTEMPTS,
  newContractId,
  outboxKey,
  readOutbox,
  recordSignature,
  signerOf,
  verifyAccessCode,
  versionRef,
} from "../src";

const prefix = `{contracts-test-${randomBytes(4).toString("hex")}}`;
let redis: Redis;
let stores: StoreRegistry;
let runtime: ContractRuntime;
const origin = { ip: "198.51.100.7", userAgent: "engine-test" };
/** The owning tenant's API key, as the gateway names the key that voids a contract. */
const owner = { tenant: "t1", keyName: "t1-key", admin: false };
/** How long a sign request waits for its job; no worker runs here. */
const WAIT_MS = 300;

beforeAll(async () => {
  redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null });
  stores = createStores({ default: { type: "local", root: await mkdtemp(join(tmpdir(), "contracts-")) } });
  runtime = createContractRuntime({
    settings: { contractSecret: randomBytes(32).toString("hex"), publicUrl: "https://sign.example" },
    redis,
    prefix,
    stores,
    defaultPublicUrl: "http://127.0.0.1:8080",
    logger: createLogger({ name: "engine-test", level: "silent" }),
  })!;
});

afterAll(async () => {
  await runtime?.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await stores.close();
});

async function create(
  signers: { name: string; order: number; auth: Record<string, string> }[],
  owner?: string,
  language?: "en" | "zh-CN",
  send?: boolean,
) {
  const id = newContractId();
  const original = { store: "default", key: `contracts/${id}/original.pdf` };
  await stores.get("default").write(original.key, [Buffer.from("%PDF-1.7\n%%EOF\n")]);
  const contract = CreateContractSchema.parse({
    title: "Lease 12",
    signers: signers.map((signer) => ({ ...signer, email: `${signer.name.toLowerCase()}@example.com` })),
    ...(owner && { owner: { email: owner } }),
    ...(language && { language }),
    ...(send !== undefined && { send }),
  });
  return runtime.service.create({
    tenant: "t1",
    contract,
    id,
    original,
    originalSha256: "0".repeat(64),
    sealProfile: "default",
    origin,
  });
}

const tokenOf = (url: string) => url.split("/s/")[1]!;

async function codeOf(thrown: Promise<unknown>): Promise<string> {
  const error = await thrown.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isEsignError(error), String(error)).toBe(true);
  return (error as { code: string }).code;
}

/** The newest outbox mail to `to` whose text matches. */
async function mailTo(to: string, pattern: RegExp): Promise<string> {
  const outbox = await readOutbox(redis, prefix);
  const mail = outbox.filter((entry) => entry.to === to && pattern.test(entry.text)).at(-1);
  expect(mail, `a mail to ${to} matching ${pattern}`).toBeDefined();
  return mail!.text;
}

describe("signing order", () => {
  it("invites the lowest order number first; the same number signs in parallel; later ones wait their turn", async () => {
    const { contract, links } = await create([
      { name: "Ann", order: 1, auth: { method: "email-otp" } },
      { name: "Ben", order: 1, auth: { method: "access-code", code: "lease-1234" } },
      { name: "Cy", order: 2, auth: { method: "email-otp" } },
    ]);
    expect(contract.signers.map((signer) => signer.status)).toEqual(["pending", "pending", "waiting"]);
    await mailTo("ann@example.com", new RegExp(`https://sign.example/s/${tokenOf(links.get("s1")!)}`));
    await mailTo("ben@example.com", /Lease 12/);
    expect((await readOutbox(redis, prefix)).some((mail) => mail.to === "cy@example.com")).toBe(false);

    const cy = tokenOf(links.get("s3")!);
    expect(await codeOf(runtime.service.challenge(cy, origin))).toBe("E_NOT_YOUR_TURN");
    expect(await codeOf(runtime.service.sign(cy, { consent: true, otp: "123456" }, origin, WAIT_MS))).toBe(
      "E_NOT_YOUR_TURN",
    );
    expect((await runtime.service.view(cy, origin)).yourTurn).toBe(false);
  });

  it("closes a declined contract: every link then answers E_CONTRACT_CLOSED", async () => {
    const { contract, links } = await create([
      { name: "Dee", order: 1, auth: { method: "email-otp" } },
      { name: "Eve", order: 2, auth: { method: "email-otp" } },
    ]);
    const declined = await runtime.service.decline(tokenOf(links.get("s1")!), "wrong salary", origin);
    expect(declined.status).toBe("declined");
    expect((await runtime.store.require(contract.id)).signers[0]).toMatchObject({
      status: "declined",
      declineReason: "wrong salary",
    });
    for (const link of links.values()) {
      expect(await codeOf(runtime.service.view(tokenOf(link), origin))).toBe("E_CONTRACT_CLOSED");
    }
    expect(await codeOf(runtime.service.void(contract.id, "t1", undefined, owner))).toBe("E_CONTRACT_CLOSED");
    // Another tenant does not even find it.
    expect(await codeOf(runtime.service.void(contract.id, "t2", undefined, { ...owner, tenant: "t2" }))).toBe(
      "E_NOT_FOUND",
    );
    const types = (await runtime.audit.read(contract.id)).map((entry) => entry.type);
    expect(types).toEqual(["created", "sent", "declined"]);
    expect((await runtime.audit.verify(contract.id)).valid).toBe(true);
  });
});

describe("after a signature", () => {
  it("follows up once: the signed event, the next invitation, completion; a repeat adds nothing", async () => {
    const { contract } = await create([
      { name: "Rae", order: 1, auth: { method: "email-otp" } },
      { name: "Sol", order: 2, auth: { method: "email-otp" } },
    ]);
    // What the worker records after a signature (here without one), then its follow-up, twice:
    // the second stands for a retried step whose first run died after recording.
    const sign = (signerId: string, revision: number) =>
      runtime.store.update(contract.id, (current) =>
        recordSignature(
          current,
          signerOf(current, signerId),
          {
            signedAt: new Date().toISOString(),
            digest: "ab".repeat(32),
            certificateSubject: "CN=Seal",
            fieldName: `Signer_${signerId}`,
          },
          { ref: versionRef(current, revision), sha256: "cd".repeat(32) },
          new Date().toISOString(),
        ),
      );
    const count = async (type: string) =>
      (await runtime.audit.read(contract.id)).filter((entry) => entry.type === type).length;
    const mailsTo = async (to: string) =>
      (await readOutbox(redis, prefix)).filter((mail) => mail.to === to).length;

    await sign("s1", 1);
    await runtime.service.followUp(contract.id);
    await runtime.service.followUp(contract.id);
    expect(await count("signed")).toBe(1);
    expect(await mailsTo("sol@example.com")).toBe(1);
    expect(signerOf(await runtime.store.require(contract.id), "s2").invitedAt).toBeDefined();

    await sign("s2", 2);
    expect((await runtime.store.require(contract.id)).status).toBe("completed");
    await runtime.service.followUp(contract.id);
    await runtime.service.followUp(contract.id);
    expect(await count("signed")).toBe(2);
    expect(await count("completed")).toBe(1);
    expect(await mailsTo("rae@example.com")).toBe(2); // invitation, completed
    expect((await runtime.audit.verify(contract.id)).valid).toBe(true);
  });
});

describe("expiry and void", () => {
  it("expires an open contract once due (the delayed job's work) and voids only open ones", async () => {
    const { contract, links } = await create([{ name: "Kim", order: 1, auth: { method: "email-otp" } }]);
    // Not due: nothing changes.
    await runtime.service.expire(contract.id);
    expect((await runtime.store.require(contract.id)).status).toBe("in_progress");
    await runtime.store.update(contract.id, (current) => {
      current.expiresAt = new Date(Date.now() - 1000).toISOString();
    });
    await runtime.service.expire(contract.id);
    const expired = await runtime.store.require(contract.id);
    expect(expired).toMatchObject({ status: "expired" });
    expect(expired.closedAt).toBeDefined();
    expect(await codeOf(runtime.service.challenge(tokenOf(links.get("s1")!), origin))).toBe(
      "E_CONTRACT_CLOSED",
    );
    await mailTo("kim@example.com", /expired|no longer/i);
    // Expiring twice (a repeated job) records it once.
    await runtime.service.expire(contract.id);
    expect((await runtime.audit.read(contract.id)).filter((entry) => entry.type === "expired")).toHaveLength(
      1,
    );

    const other = await create([{ name: "Lou", order: 1, auth: { method: "email-otp" } }]);
    expect((await runtime.service.void(other.contract.id, "t1", "sent by mistake", owner)).status).toBe(
      "voided",
    );
    expect(await codeOf(runtime.service.void(other.contract.id, "t1", undefined, owner))).toBe(
      "E_CONTRACT_CLOSED",
    );
    const voided = (await runtime.audit.read(other.contract.id)).filter((entry) => entry.type === "voided");
    expect(voided.map((entry) => entry.details)).toEqual([{ reason: "sent by mistake", by: owner }]);
  });
});

describe("drafts", () => {
  it("keeps a draft's links shut until it is sent; a draft expires without notices", async () => {
    const sent = await create(
      [{ name: "Noa", order: 1, auth: { method: "email-otp" } }],
      undefined,
      "en",
      false,
    );
    expect(sent.contract.status).toBe("draft");
    const noa = tokenOf(sent.links.get("s1")!);
    for (const call of [
      runtime.service.view(noa, origin),
      runtime.service.challenge(noa, origin),
      runtime.service.documentFor(noa),
      runtime.service.decline(noa, "no", origin),
    ]) {
      expect(await codeOf(call)).toBe("E_CONTRACT_NOT_SENT");
    }
    expect((await readOutbox(redis, prefix)).filter((entry) => entry.to === "noa@example.com")).toEqual([]);
    expect(await codeOf(runtime.service.send(sent.contract.id, "t2"))).toBe("E_NOT_FOUND");
    expect((await runtime.service.send(sent.contract.id, "t1")).signers[0]!.status).toBe("pending");
    await mailTo("noa@example.com", /asks you to sign/);
    expect((await runtime.service.view(noa, origin)).yourTurn).toBe(true);

    const kept = await create(
      [{ name: "Ola", order: 1, auth: { method: "email-otp" } }],
      undefined,
      "en",
      false,
    );
    await runtime.store.update(kept.contract.id, (current) => {
      current.expiresAt = new Date(Date.now() - 1000).toISOString();
    });
    await runtime.service.expire(kept.contract.id);
    expect((await runtime.store.require(kept.contract.id)).status).toBe("expired");
    expect(await codeOf(runtime.service.send(kept.contract.id, "t1"))).toBe("E_CONTRACT_CLOSED");
    expect((await readOutbox(redis, prefix)).filter((entry) => entry.to === "ola@example.com")).toEqual([]);
  });
});

describe("one-time passwords", () => {
  it("sends a 6-digit code, refuses wrong ones with a count, locks at the fifth and tells the owner", async () => {
    const { contract, links } = await create(
      [{ name: "Fay", order: 1, auth: { method: "email-otp" } }],
      "owner@example.com",
    );
    const token = tokenOf(links.get("s1")!);
    const sent = await runtime.service.challenge(token, origin);
    expect(sent).toMatchObject({ method: "email-otp", sent: true, to: "f***@example.com" });
    const code = /is (\d{6})\./.exec(await mailTo("fay@example.com", /one-time code/))![1]!;
    const wrong = code === "999999" ? "999998" : "999999";
    // The code is kept as an HMAC: neither it nor the token is anywhere in Redis.
    const dump = await dumpPrefix();
    expect(dump).not.toContain(code);
    expect(dump).not.toContain(token);

    for (let attempt = 1; attempt < MAX_AUTH_ATTEMPTS; attempt++) {
      expect(await codeOf(runtime.service.sign(token, { consent: true, otp: wrong }, origin, WAIT_MS))).toBe(
        "E_AUTH_FAILED",
      );
      expect((await runtime.service.view(token, origin)).attemptsLeft).toBe(MAX_AUTH_ATTEMPTS - attempt);
    }
    expect(await codeOf(runtime.service.sign(token, { consent: true, otp: wrong }, origin, WAIT_MS))).toBe(
      "E_LOCKED",
    );
    // Locked: even the right code no longer works, and a new one is not sent.
    expect(await codeOf(runtime.service.sign(token, { consent: true, otp: code }, origin, WAIT_MS))).toBe(
      "E_LOCKED",
    );
    expect(await codeOf(runtime.service.challenge(token, origin))).toBe("E_LOCKED");
    expect(signerOf(await runtime.store.require(contract.id), "s1")).toMatchObject({
      status: "locked",
      failedAttempts: MAX_AUTH_ATTEMPTS,
    });
    await mailTo("owner@example.com", /Fay/);
    const types = (await runtime.audit.read(contract.id)).map((entry) => entry.type);
    expect(types.filter((type) => type === "otp.failed")).toHaveLength(MAX_AUTH_ATTEMPTS);
    expect(types).toContain("locked");
  });

  it("takes a right code once: the signer is then signing under a deterministic job id", async () => {
    const { contract, links } = await create([{ name: "Gus", order: 1, auth: { method: "email-otp" } }]);
    const token = tokenOf(links.get("s1")!);
    await runtime.service.challenge(token, origin);
    const code = /is (\d{6})\./.exec(await mailTo("gus@example.com", /one-time code/))![1]!;
    // No worker runs here: the request gives up waiting and answers with the signer signing.
    const view = await runtime.service.sign(token, { consent: true, otp: code }, origin, WAIT_MS);
    expect(view.signer.status).toBe("signing");
    // A double click after the code was used joins the attempt instead of counting a failure.
    const again = await runtime.service.sign(token, { consent: true, otp: code }, origin, WAIT_MS);
    expect(again.attemptsLeft).toBe(MAX_AUTH_ATTEMPTS);
    expect(signerOf(await runtime.store.require(contract.id), "s1")).toMatchObject({
      status: "signing",
      signAttempt: 1,
      ip: origin.ip,
      userAgent: origin.userAgent,
    });
    const queue = new Queue(CONTRACTS_QUEUE, { connection: redis, prefix });
    const jobId = contractJobId({ kind: "sign", contractId: contract.id, signerId: "s1", attempt: 1 });
    expect((await queue.getJob(jobId))?.data).toEqual({
      kind: "sign",
      contractId: contract.id,
      signerId: "s1",
      attempt: 1,
    });
    // The code is used up.
    expect(await runtime.store.otpHash(contract.id, "s1")).toBeUndefined();
    await queue.obliterate({ force: true });
    await queue.close();
  });
});

describe("reminders and SMS", () => {
  it("reminds the signers whose turn it is and schedules the next reminder", async () => {
    const { contract } = await create([
      { name: "Max", order: 1, auth: { method: "email-otp" } },
      { name: "Ned", order: 2, auth: { method: "email-otp" } },
    ]);
    await runtime.service.remind(contract.id, 1);
    await mailTo("max@example.com", /reminder|still waiting|remind/i);
    expect((await readOutbox(redis, prefix)).some((mail) => mail.to === "ned@example.com")).toBe(false);
    expect((await runtime.audit.read(contract.id)).at(-1)).toMatchObject({
      type: "reminded",
      details: { signers: ["s1"] },
    });
    const queue = new Queue(CONTRACTS_QUEUE, { connection: redis, prefix });
    const next = await queue.getJob(contractJobId({ kind: "remind", contractId: contract.id }, "2"));
    expect(next?.opts.delay).toBe(72 * 3600_000);
    await queue.close();
  });

  it("writes the notices in the contract's language", async () => {
    await create([{ name: "Qiu", order: 1, auth: { method: "email-otp" } }], undefined, "zh-CN");
    expect(await mailTo("qiu@example.com", /Lease 12/)).toMatch(/[\u4e00-\u9fff]/);
  });

  it("sends an sms-otp signer's code through the SMS gateway", async () => {
    const received: { to: string; text: string }[] = [];
    const gateway = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        received.push(JSON.parse(body) as { to: string; text: string });
        response.writeHead(200).end("{}");
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
    const sms = createContractRuntime({
      settings: {
        contractSecret: randomBytes(32).toString("hex"),
        smsWebhookUrl: `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/sms`,
      },
      redis,
      prefix,
      stores,
      defaultPublicUrl: "http://127.0.0.1:8080",
      logger: createLogger({ name: "engine-test", level: "silent" }),
    })!;
    try {
      const id = newContractId();
      const original = { store: "default", key: `contracts/${id}/original.pdf` };
      await stores.get("default").write(original.key, [Buffer.from("%PDF-1.7\n%%EOF\n")]);
      const { links } = await sms.service.create({
        tenant: "t1",
        contract: CreateContractSchema.parse({
          title: "Lease 13",
          signers: [
            { name: "Ola", email: "ola@example.com", phone: "+49 30 1234567", auth: { method: "sms-otp" } },
          ],
        }),
        id,
        original,
        originalSha256: "0".repeat(64),
        sealProfile: "default",
        origin,
      });
      const token = tokenOf(links.get("s1")!);
      expect(await sms.service.challenge(token, origin)).toMatchObject({ method: "sms-otp", to: "***567" });
      expect(received).toHaveLength(1);
      expect(received[0]!.to).toBe("+49 30 1234567");
      const code = /(\d{6})/.exec(received[0]!.text)![1]!;
      const stored = await sms.store.otpHash(id, "s1");
      expect(stored && sms.service.deps.secrets.verifyOtp(`${id}:s1`, code, stored)).toBe(true);
    } finally {
      await sms.close();
      await new Promise((resolve) => gateway.close(resolve));
    }
  });
});

describe("secrets at rest", () => {
  it("hashes link tokens and access codes; only the hash finds the signer", async () => {
    const { contract, links } = await create([
      { name: "Hal", order: 1, auth: { method: "access-code", code: "handed-over-42" } },
    ]);
    const token = tokenOf(links.get("s1")!);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = signerOf(await runtime.store.require(contract.id), "s1");
    expect(stored.tokenHash).toBe(hashToken(token));
    expect(stored.accessCodeHash).toMatch(/^scrypt\$/);
    const dump = await dumpPrefix();
    expect(dump).not.toContain(token);
    expect(dump).not.toContain("handed-over-42");
    expect((await runtime.store.byToken(token)).signer.id).toBe("s1");
    const altered = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    expect(await codeOf(runtime.store.byToken(altered))).toBe("E_NOT_FOUND");
    expect(await codeOf(runtime.service.sign(token, { consent: true, code: "guess" }, origin, WAIT_MS))).toBe(
      "E_AUTH_FAILED",
    );
    expect(verifyAccessCode("handed-over-42", hashAccessCode("handed-over-42"))).toBe(true);
    expect(verifyAccessCode("handed-over-43", hashAccessCode("handed-over-42"))).toBe(false);
  });

  it("hands a PIN/OTP to the worker encrypted, bound to its key, once", async () => {
    const { contract } = await create([
      { name: "Ivy", order: 1, auth: { method: "esign-api", credentialId: "x" } },
    ]);
    const secrets = runtime.service.deps.secrets;
    await runtime.store.putHandoff(secrets, contract.id, "s1", 1, { pin: "1234", otp: "654321" });
    const box = await redis.get(runtime.store.handoffKey(contract.id, "s1", 1));
    expect(box).not.toContain("1234");
    expect(await redis.ttl(runtime.store.handoffKey(contract.id, "s1", 1))).toBeGreaterThan(0);
    // Moved to another attempt's key, the box does not open.
    await redis.set(runtime.store.handoffKey(contract.id, "s1", 2), box!);
    expect(await codeOf(runtime.store.takeHandoff(secrets, contract.id, "s1", 2))).toBe("E_AUTH_FAILED");
    expect(await runtime.store.takeHandoff(secrets, contract.id, "s1", 1)).toEqual({
      pin: "1234",
      otp: "654321",
    });
    expect(await runtime.store.takeHandoff(secrets, contract.id, "s1", 1)).toBeUndefined();
  });
});

describe("atomic transitions", () => {
  it("applies concurrent updates one after the other, none lost", async () => {
    const { contract } = await create([{ name: "Jo", order: 1, auth: { method: "email-otp" } }]);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        runtime.store.update(contract.id, (current) => {
          current.revisions += 1;
        }),
      ),
    );
    expect((await runtime.store.require(contract.id)).revisions).toBe(20);
  });
});

/**
 * Every key and value under this test's prefix, as one string; but the dev outbox, which holds the
 * mails as sent (it stands in for the recipients' mailboxes when no SMTP server is configured).
 */
async function dumpPrefix(): Promise<string> {
  const parts: string[] = [];
  for (const key of await redis.keys(`${prefix}*`)) {
    if (key === outboxKey(prefix)) continue;
    parts.push(key);
    const type = await redis.type(key);
    if (type === "string") parts.push((await redis.get(key)) ?? "");
    if (type === "hash") parts.push(JSON.stringify(await redis.hgetall(key)));
    if (type === "list") parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
  }
  return parts.join("\n");
}
