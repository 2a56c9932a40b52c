/**
 * Issue 13's "done when": a two-party e-contract through the agent as a user starts it
 * (`pnpm start`), with a real SMTP server over TCP. Signer 1 signs with the simulator's personal
 * credential alice-rsa (PIN + the service's OTP), signer 2 with an e-mailed OTP; the agent is
 * killed (SIGKILL) between the two signatures and restarted. The final PDF carries both approval
 * signatures and the organisation seal, each by the right certificate, valid in validate.sh; the
 * audit trail verifies until a stored entry is edited; the simulator billed one signature per
 * signer plus the seal.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { verifyPdfSignatures } from "@esign/pades";
import { BufferSource } from "@esign/pdf";
import { SAMPLES_DIR, validate } from "@esign/testkit";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Redis } from "ioredis";
import { PNG } from "pngjs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";
import {
  type ContractWebhookEvent,
  contractCalls,
  expectError,
  type HookCatcher,
  type MailCatcher,
  startContractAgent,
  stopContractAgent,
} from "./support/contracts";
import { appearanceImages } from "./support/pdf-appearance";

let mail: MailCatcher;
let hooks: HookCatcher;
let agent: RunningAgent;
let WEBHOOK_SECRET: string;
const { api, signer, contract } = contractCalls(() => agent);

beforeAll(async () => {
  ({ mail, hooks, agent, webhookSecret: WEBHOOK_SECRET } = await startContractAgent());
}, 180_000);

afterAll(() => stopContractAgent({ mail, hooks, agent }));

const mailTo = (address: string, subject: RegExp, after: number) => mail.mailTo(address, subject, after);

/** A code on its own, not as part of a longer number (a time-stamp may contain any six digits). */
const standalone = (code: string) => new RegExp(`(^|[^0-9])${code}([^0-9]|$)`);

/** Every key and value under an agent's prefix (BullMQ's hashes, lists, sorted sets and streams too). */
async function redisDump(prefix: string): Promise<string> {
  const redis = new Redis("redis://127.0.0.1:6379");
  try {
    const parts: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === "string"
            ? await redis.get(key)
            : type === "hash"
              ? await redis.hgetall(key)
              : type === "list"
                ? await redis.lrange(key, 0, -1)
                : type === "zset"
                  ? await redis.zrange(key, 0, -1)
                  : type === "set"
                    ? await redis.smembers(key)
                    : type === "stream"
                      ? await redis.xrange(key, "-", "+")
                      : null;
        parts.push(key, JSON.stringify(value));
      }
    } while (cursor !== "0");
    return parts.join("\n");
  } finally {
    redis.disconnect();
  }
}

async function simUsage(): Promise<{ signatures: number; signCalls: number }> {
  const response = await fetch(`${agent.simUrl}/admin/usage`, {
    headers: { authorization: `Bearer ${agent.simAdminToken}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { signatures: number; signCalls: number };
}

it("runs a two-party contract: esign-api then e-mail OTP, a crash in between, sealed B-LTA", async () => {
  const alice = "alice@example.com";
  const bob = "bob@example.com";
  const form = new FormData();
  form.set(
    "contract",
    JSON.stringify({
      title: "Employment agreement 2026-17",
      signers: [
        {
          name: "Alice Example",
          email: alice,
          order: 1,
          auth: { method: "esign-api", credentialId: "alice-rsa" },
        },
        { name: "Bob Builder", email: bob, order: 2, auth: { method: "email-otp" } },
      ],
      seal: { level: "B-LTA" },
      expiresAt: new Date(Date.now() + 7 * 24 * 3600_000).toISOString(),
      callback: { url: hooks.url },
    }),
  );
  const pdf = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
  form.set("document", new Blob([pdf], { type: "application/pdf" }), "agreement.pdf");
  const created = await api("/v1/contracts", { method: "POST", body: form });
  expect(created.status, await created.clone().text()).toBe(201);
  const { id, status, signers } = (await created.json()) as {
    id: string;
    status: string;
    signers: { id: string; email: string; status: string; url: string }[];
  };
  expect(status).toBe("in_progress");
  expect(signers.map((entry) => [entry.email, entry.status])).toEqual([
    [alice, "pending"],
    [bob, "waiting"],
  ]);
  const [aliceUrl, bobUrl] = signers.map((entry) => entry.url) as [string, string];
  expect(aliceUrl).toMatch(new RegExp(`^${agent.base}/s/[A-Za-z0-9_-]{43}$`));
  // The invitation carries the signer's link; the second signer is not invited yet.
  expect(await mailTo(alice, /Employment agreement/, 0)).toContain(aliceUrl);
  expect(mail.mails.some((entry) => entry.to.includes(bob))).toBe(false);

  // Signer 2 before signer 1: refused.
  const bobView = await signer(bobUrl);
  expect(bobView.status).toBe(200);
  expect(await bobView.json()).toMatchObject({
    signer: { name: "Bob Builder" },
    auth: { method: "email-otp" },
  });
  await expectError(await signer(bobUrl, "challenge", {}), 409, "E_NOT_YOUR_TURN");
  await expectError(await signer(bobUrl, "sign", { consent: true, otp: "123456" }), 409, "E_NOT_YOUR_TURN");

  // Signer 1: the signing service sends its OTP; PIN and OTP authorise alice-rsa's signature.
  const aliceChallenge = await signer(aliceUrl, "challenge", {});
  expect(aliceChallenge.status, `${await aliceChallenge.clone().text()}\n${agent.output()}`).toBe(200);
  const otpAnswer = await fetch(`${agent.simUrl}/admin/otp/alice-rsa`, {
    headers: { authorization: `Bearer ${agent.simAdminToken}` },
  });
  expect(otpAnswer.status).toBe(200);
  const { otp } = (await otpAnswer.json()) as { otp: string };
  // A wrong PIN: the signing service refuses the authorisation, which counts as a failed attempt
  // (and costs nothing: no signHash was made).
  await expectError(
    await signer(aliceUrl, "sign", { consent: true, pin: "9999", otp }),
    401,
    "E_AUTH_FAILED",
  );
  expect(await (await signer(aliceUrl)).json()).toMatchObject({
    attemptsLeft: 4,
    signer: { status: "pending" },
  });
  // A double click: two requests, one signature.
  const [first, second] = await Promise.all([
    signer(aliceUrl, "sign", { consent: true, pin: "1234", otp }),
    signer(aliceUrl, "sign", { consent: true, pin: "1234", otp }),
  ]);
  for (const answer of [first, second]) {
    expect(answer.status, await answer.clone().text()).toBe(200);
    expect(await answer.json()).toMatchObject({ signer: { status: "signed" } });
  }
  expect(await simUsage()).toMatchObject({ signatures: 1 });
  const bobInvitation = await mailTo(bob, /Employment agreement/, 0);
  expect(bobInvitation).toContain(bobUrl);
  expect((await contract(id)).signers.map((entry) => entry.status)).toEqual(["signed", "pending"]);

  // Neither the PIN nor the OTP was logged or kept (jobs carry ids, the hand-over is gone).
  expect(agent.output()).not.toMatch(standalone(otp));
  expect(agent.output()).not.toMatch(/"pin"/);
  const kept = await redisDump(agent.queuePrefix);
  expect(kept).toContain(id);
  expect(kept).not.toMatch(standalone(otp));
  expect(kept).not.toMatch(/"pin"/);

  // The agent dies between the two signatures and comes back on the same data, ports and queues.
  await agent.kill();
  agent = await startAllInOne({}, agent);
  const resumed = await contract(id);
  expect(resumed).toMatchObject({ status: "in_progress", signatures: 1 });
  expect(resumed.signers.map((entry) => entry.status)).toEqual(["signed", "pending"]);

  // Signer 2: e-mailed OTP; a wrong one is refused and counted.
  const mailsBefore = mail.mails.length;
  const challenge = await signer(bobUrl, "challenge", {});
  expect(challenge.status, await challenge.clone().text()).toBe(200);
  const otpMail = await mailTo(bob, /one-time code/, mailsBefore);
  const code = /one-time code to sign "[^"]+" is (\d{6})/.exec(otpMail)?.[1];
  expect(code).toMatch(/^\d{6}$/);
  const wrong = code === "000000" ? "000001" : "000000";
  await expectError(await signer(bobUrl, "sign", { consent: true, otp: wrong }), 401, "E_AUTH_FAILED");
  expect(await (await signer(bobUrl)).json()).toMatchObject({ attemptsLeft: 4 });
  const signed = await signer(bobUrl, "sign", { consent: true, otp: code });
  expect(signed.status, await signed.clone().text()).toBe(200);
  expect(await redisDump(agent.queuePrefix)).not.toMatch(standalone(code!));

  // The seal follows the last signer.
  let final = await contract(id);
  for (let i = 0; i < 300 && final.status !== "completed"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    final = await contract(id);
  }
  expect(final).toMatchObject({ status: "completed", signatures: 3 });
  const listed = (await (await api("/v1/contracts?status=completed")).json()) as { items: { id: string }[] };
  expect(listed.items.map((item) => item.id)).toContain(id);
  const open = (await (await api("/v1/contracts?status=in_progress")).json()) as { items: { id: string }[] };
  expect(open.items.map((item) => item.id)).not.toContain(id);
  expect(await mailTo(alice, /completed|signed by everyone/i, mailsBefore)).toContain("Employment agreement");
  // After the restart the simulator counts afresh: Bob's approval (the seal profile) and the seal.
  expect(await simUsage()).toMatchObject({ signatures: 2 });
  await expectError(await signer(bobUrl, "sign", { consent: true, otp: code }), 409, "E_CONTRACT_CLOSED");

  // The final PDF: two approval signatures and the seal, each by its certificate, all valid.
  const document = await api(`/v1/contracts/${id}/document`);
  expect(document.status).toBe(200);
  const finalPdf = new Uint8Array(await document.arrayBuffer());
  expect(Buffer.from(finalPdf.subarray(0, pdf.length)).equals(pdf)).toBe(true);
  const path = join(agent.dataDir, "final.pdf");
  await writeFile(path, finalPdf);
  const rootPath = join(agent.dataDir, "sim-root.pem");
  await writeFile(rootPath, await (await fetch(`${agent.simUrl}/pki/root.pem`)).text());
  const verdict = await validate(path, rootPath);
  expect(verdict.failures, verdict.output).toEqual([]);
  expect(verdict.ok, verdict.output).toBe(true);
  const rootDer = new Uint8Array(
    Buffer.from((await readFile(rootPath, "utf8")).replace(/-----[A-Z ]+-----|\s/g, ""), "base64"),
  );
  const report = await verifyPdfSignatures(new BufferSource(finalPdf), { trustRoots: [rootDer] });
  const approvals = report.signatures.filter((entry) => entry.type === "Sig");
  expect(approvals.map((entry) => [entry.fieldName, entry.signer?.match(/CN=([^,]+)/)?.[1]])).toEqual([
    ["Signer_s1", "Alice Example"],
    ["Signer_s2", "Example Corp Seal"],
    ["Seal", "Example Corp Seal"],
  ]);
  for (const entry of approvals) expect(entry.valid && entry.trusted, entry.problems.join("; ")).toBe(true);
  expect(approvals[1]!.reason).toMatch(
    /Bob Builder <bob@example.com>, authenticated by e-mail one-time password/,
  );
  expect(report.signatures.some((entry) => entry.type === "DocTimeStamp")).toBe(true);

  // Standard Webhooks events, signed with the tenant's secret, one per transition.
  let events: ContractWebhookEvent[] = [];
  for (let i = 0; i < 100 && !events.some((event) => event.type === "contract.completed"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    events = hooks.events(WEBHOOK_SECRET);
  }
  expect(events.map((event) => [event.type, event.data.signerId])).toEqual([
    ["contract.sent", undefined],
    ["contract.signer.signed", "s1"],
    ["contract.signer.signed", "s2"],
    ["contract.completed", undefined],
  ]);
  expect(events.every((event) => event.data.contractId === id)).toBe(true);

  // The audit trail verifies, and no longer once a stored entry is edited.
  const audit = await api(`/v1/contracts/${id}/audit?verify=1`);
  expect(audit.status).toBe(200);
  const trail = (await audit.json()) as {
    entries: { type: string; signerId?: string }[];
    verification: { valid: boolean };
  };
  expect(trail.verification.valid).toBe(true);
  const types = trail.entries.map((entry) => entry.type);
  for (const type of [
    "created",
    "sent",
    "viewed",
    "otp.sent",
    "otp.failed",
    "otp.passed",
    "signed",
    "sealed",
    "completed",
  ]) {
    expect(types).toContain(type);
  }
  expect(trail.entries.filter((entry) => entry.type === "signed").map((entry) => entry.signerId)).toEqual([
    "s1",
    "s2",
  ]);
  // Certificate of completion and evidence pack.
  const certificate = await api(`/v1/contracts/${id}/certificate`);
  expect(certificate.status).toBe(200);
  expect(certificate.headers.get("content-type")).toMatch(/application\/pdf/);
  expect(
    Buffer.from(await certificate.arrayBuffer())
      .subarray(0, 5)
      .toString(),
  ).toBe("%PDF-");
  const evidence = await api(`/v1/contracts/${id}/evidence`);
  expect(evidence.status).toBe(200);
  const zip = Buffer.from(await evidence.arrayBuffer());
  expect(zip.subarray(0, 2).toString()).toBe("PK");
  for (const name of ["signed.pdf", "manifest.json"]) expect(zip.includes(name)).toBe(true);
  expect(zip.includes(Buffer.from(finalPdf.subarray(-2048)))).toBe(true);

  const auditFolder = join(agent.dataDir, "objects", "contracts", id, "audit");
  const [firstEntry] = (await readdir(auditFolder)).sort();
  const entryPath = join(auditFolder, firstEntry!);
  await writeFile(
    entryPath,
    (await readFile(entryPath, "utf8")).replace("Employment agreement", "Loan agreement"),
  );
  const tampered = (await (await api(`/v1/contracts/${id}/audit?verify=1`)).json()) as {
    verification: { valid: boolean; brokenAt?: number };
  };
  expect(tampered.verification).toMatchObject({ valid: false, brokenAt: 1 });
}, 600_000);

it("documents the contract and signer routes in a valid OpenAPI document", async () => {
  const document = (await (await fetch(`${agent.base}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { security?: unknown[] }>>;
  };
  const result = await new Validator().validate(document as never);
  expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
  for (const path of [
    "/v1/contracts",
    "/v1/contracts/{id}",
    "/v1/contracts/{id}/document",
    "/v1/contracts/{id}/audit",
    "/v1/contracts/{id}/certificate",
    "/v1/contracts/{id}/evidence",
    "/v1/contracts/{id}/void",
    "/v1/signing/{token}",
    "/v1/signing/{token}/document",
    "/v1/signing/{token}/challenge",
    "/v1/signing/{token}/sign",
    "/v1/signing/{token}/decline",
  ]) {
    expect(document.paths[path], path).toBeDefined();
  }
  // Signer routes take the link's token, not an API key.
  expect(document.paths["/v1/signing/{token}/sign"]!.post!.security).toEqual([]);
});

it("signs parallel signers one after the other, and announces declined and voided contracts", async () => {
  const pdf = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
  const create = async (signers: unknown[]) => {
    const form = new FormData();
    form.set("contract", JSON.stringify({ title: "Supplier terms", signers, callback: { url: hooks.url } }));
    form.set("document", new Blob([pdf], { type: "application/pdf" }), "terms.pdf");
    const created = await api("/v1/contracts", { method: "POST", body: form });
    expect(created.status, await created.clone().text()).toBe(201);
    return (await created.json()) as { id: string; signers: { url: string; status: string }[] };
  };

  // Two signers with the same order number, access codes, no seal: both sign at once.
  const parallel = await create([
    {
      name: "Carla Cruz",
      email: "carla@example.com",
      order: 1,
      auth: { method: "access-code", code: "carla-7781" },
    },
    {
      name: "Dan Dorn",
      email: "dan@example.com",
      order: 1,
      auth: { method: "access-code", code: "dan-5512" },
    },
  ]);
  expect(parallel.signers.map((entry) => entry.status)).toEqual(["pending", "pending"]);
  // A signature image that is no PNG data URL, too large, no PNG or of absurd size: refused,
  // typed, before the code is checked (no attempt counted).
  const carlaUrl = parallel.signers[0]!.url;
  const withImage = (signatureImage: string) => ({ consent: true, code: "carla-7781", signatureImage });
  const pngUrl = (png: Buffer) => `data:image/png;base64,${png.toString("base64")}`;
  const refusals: [string, number, string][] = [
    ["data:image/jpeg;base64,/9j/4AAQ", 400, "E_INVALID_REQUEST"],
    ["not a data url", 400, "E_INVALID_REQUEST"],
    [pngUrl(Buffer.alloc(201 * 1024, 1)), 400, "E_INVALID_REQUEST"],
    [pngUrl(Buffer.from("GIF89a, not a PNG at all, just text")), 422, "E_APPEARANCE"],
    [pngUrl(signaturePng(3000, 10)), 422, "E_APPEARANCE"],
    // A PNG header and nothing after it: the image does not decode.
    [pngUrl(signaturePng(200, 80).subarray(0, 40)), 422, "E_APPEARANCE"],
  ];
  for (const [image, status, code] of refusals) {
    await expectError(await signer(carlaUrl, "sign", withImage(image)), status, code);
  }
  expect(await (await signer(carlaUrl)).json()).toMatchObject({
    attemptsLeft: 5,
    signer: { status: "pending" },
  });
  await expectError(
    await signer(parallel.signers[0]!.url, "sign", { consent: true, code: "dan-5512" }),
    401,
    "E_AUTH_FAILED",
  );
  const answers = await Promise.all([
    // Carla's drawn signature (transparent background), Dan without one.
    signer(carlaUrl, "sign", withImage(pngUrl(signaturePng(200, 80)))),
    signer(parallel.signers[1]!.url, "sign", { consent: true, code: "dan-5512" }),
  ]);
  for (const answer of answers) expect(answer.status, await answer.clone().text()).toBe(200);
  const done = await contract(parallel.id);
  expect(done).toMatchObject({ status: "completed", signatures: 2 });
  const path = join(agent.dataDir, "parallel.pdf");
  await writeFile(
    path,
    Buffer.from(await (await api(`/v1/contracts/${parallel.id}/document`)).arrayBuffer()),
  );
  const rootPath = join(agent.dataDir, "sim-root.pem");
  await writeFile(rootPath, await (await fetch(`${agent.simUrl}/pki/root.pem`)).text());
  const verdict = await validate(path, rootPath);
  expect(verdict.failures, verdict.output).toEqual([]);
  expect(verdict.output).toMatch(/sig#2/);
  // The worker drew Carla's image, with its transparency as a soft mask, into her box only.
  const signed = new Uint8Array(await readFile(path));
  expect(await appearanceImages(signed, "Signer_s1")).toEqual([{ width: 200, height: 80, softMask: true }]);
  expect(await appearanceImages(signed, "Signer_s2")).toEqual([]);

  // Declined by a signer, voided by the owner: closed, announced, links refused.
  const declined = await create([{ name: "Eli", email: "eli@example.com", auth: { method: "email-otp" } }]);
  const declineAnswer = await signer(declined.signers[0]!.url, "decline", { reason: "wrong rate" });
  expect(declineAnswer.status).toBe(200);
  expect((await contract(declined.id)).status).toBe("declined");
  await expectError(await signer(declined.signers[0]!.url), 409, "E_CONTRACT_CLOSED");
  const voided = await create([{ name: "Flo", email: "flo@example.com", auth: { method: "email-otp" } }]);
  const voidAnswer = await api(`/v1/contracts/${voided.id}/void`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ reason: "superseded" }),
  });
  expect(voidAnswer.status).toBe(200);
  expect(await voidAnswer.json()).toMatchObject({ status: "voided" });
  await expectError(await signer(voided.signers[0]!.url, "challenge", {}), 409, "E_CONTRACT_CLOSED");

  const announced = (contractId: string, type: string) => hooks.announced(WEBHOOK_SECRET, contractId, type);
  expect((await announced(parallel.id, "contract.completed")).data.contractId).toBe(parallel.id);
  expect((await announced(declined.id, "contract.signer.declined")).data.reason).toBe("wrong rate");
  expect((await announced(voided.id, "contract.voided")).data.reason).toBe("superseded");
}, 300_000);

it("loses nothing when the agent is killed in the middle of a signature", async () => {
  const form = new FormData();
  form.set(
    "contract",
    JSON.stringify({
      title: "Lease 99",
      signers: [
        { name: "Gil Grant", email: "gil@example.com", auth: { method: "access-code", code: "gil-2026" } },
      ],
      seal: { level: "B-LTA" },
    }),
  );
  const pdf = await readFile(join(SAMPLES_DIR, "chromium-invoice.pdf"));
  form.set("document", new Blob([pdf], { type: "application/pdf" }), "lease.pdf");
  const created = await api("/v1/contracts", { method: "POST", body: form });
  expect(created.status).toBe(201);
  const { id, signers } = (await created.json()) as { id: string; signers: { url: string }[] };

  // Slow signatures, so the kill lands while the step runs.
  const slow = await fetch(`${agent.simUrl}/admin/faults`, {
    method: "PUT",
    headers: { authorization: `Bearer ${agent.simAdminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ routes: ["sign"], latencyMs: 5000 }),
  });
  expect(slow.status).toBe(200);
  const pending = signer(signers[0]!.url, "sign", { consent: true, code: "gil-2026" }).catch(
    (error: unknown) => error,
  );
  let signing = await contract(id);
  for (let i = 0; i < 100 && signing.signers[0]!.status !== "signing"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    signing = await contract(id);
  }
  expect(signing.signers[0]!.status).toBe("signing");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await agent.kill();
  expect(await pending).toBeInstanceOf(Error);

  // Restarted (faults are gone with the old simulator), the stalled step is taken up again.
  agent = await startAllInOne({ WORKER_LOCK_DURATION_MS: "4000", WORKER_STALLED_INTERVAL_MS: "2000" }, agent);
  let final = await contract(id);
  for (let i = 0; i < 600 && final.status !== "completed"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    final = await contract(id);
  }
  expect(final).toMatchObject({ status: "completed", signatures: 2, signers: [{ status: "signed" }] });
  expect(await simUsage()).toMatchObject({ signatures: 2 });
  const path = join(agent.dataDir, "killed-mid-signature.pdf");
  await writeFile(path, Buffer.from(await (await api(`/v1/contracts/${id}/document`)).arrayBuffer()));
  const rootPath = join(agent.dataDir, "sim-root.pem");
  await writeFile(rootPath, await (await fetch(`${agent.simUrl}/pki/root.pem`)).text());
  const verdict = await validate(path, rootPath);
  expect(verdict.failures, verdict.output).toEqual([]);
  const audit = (await (await api(`/v1/contracts/${id}/audit?verify=1`)).json()) as {
    entries: { type: string }[];
    verification: { valid: boolean };
  };
  expect(audit.verification.valid).toBe(true);
  expect(audit.entries.filter((entry) => entry.type === "signed")).toHaveLength(1);
}, 300_000);

/** A width × height PNG with a dark stroke across a transparent background, like a drawn signature. */
function signaturePng(width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  for (let x = 0; x < width; x++) {
    const y = Math.round(height / 2 + (Math.sin(x / 10) * height) / 4);
    const at = (y * width + x) * 4;
    png.data.set([10, 30, 80, 255], at);
  }
  return PNG.sync.write(png);
}
