/**
 * An e-contract's life beyond the signatures, through the agent as a user starts it (`pnpm start`)
 * with a real SMTP server and a webhook receiver: reminders and expiry as BullMQ delayed jobs
 * firing in the running agent (and after a SIGKILL and restart, from Redis).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningAgent, startAllInOne } from "./support/all-in-one";
import {
  contractCalls,
  contractForm,
  expectError,
  type HookCatcher,
  type MailCatcher,
  startContractAgent,
  stopContractAgent,
} from "./support/contracts";

let WEBHOOK_SECRET: string;
/** Reminders every two seconds: CONTRACT_REMIND_AFTER_HOURS takes fractions of an hour. */
const REMIND_AFTER_HOURS = 2 / 3600;
let mail: MailCatcher;
let hooks: HookCatcher;
let agent: RunningAgent;
const { api, signer, contract, contractWhen } = contractCalls(() => agent);

beforeAll(async () => {
  ({
    mail,
    hooks,
    agent,
    webhookSecret: WEBHOOK_SECRET,
  } = await startContractAgent({ CONTRACT_REMIND_AFTER_HOURS: String(REMIND_AFTER_HOURS) }));
}, 180_000);

afterAll(() => stopContractAgent({ mail, hooks, agent }));

interface Created {
  id: string;
  status: string;
  signers: { id: string; email: string; status: string; url: string }[];
}

async function create(contractJson: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return api("/v1/contracts", { method: "POST", body: await contractForm(contractJson), headers });
}

async function created(response: Response, status = 201): Promise<Created> {
  expect(response.status, await response.clone().text()).toBe(status);
  return (await response.json()) as Created;
}

it("reminds the signer whose turn it is, then expires the contract: webhook, notices, links closed", async () => {
  const expiresAt = new Date(Date.now() + 9000).toISOString();
  const { id, signers } = await created(
    await create({
      title: "Short offer 31",
      signers: [
        { name: "Hana Hill", email: "hana@example.com", order: 1, auth: { method: "email-otp" } },
        { name: "Ivo Iles", email: "ivo@example.com", order: 2, auth: { method: "email-otp" } },
      ],
      expiresAt,
      callback: { url: hooks.url },
    }),
  );
  const [hanaUrl, ivoUrl] = signers.map((entry) => entry.url) as [string, string];
  const invitation = await mail.mailTo("hana@example.com", /Please sign: Short offer 31/, 0);
  expect(invitation).toContain(hanaUrl);
  // The reminder is a delayed job of the running agent: it arrives at the SMTP server by itself.
  const reminder = await mail.mailTo("hana@example.com", /Reminder: please sign Short offer 31/, 0);
  expect(reminder).toContain(hanaUrl);
  expect((await contract(id)).status).toBe("in_progress");

  // The expiry is another: the contract turns expired once its time has come, not before.
  const expired = await contractWhen(id, (view) => view.status === "expired");
  expect(expired.status).toBe("expired");
  expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
  const event = await hooks.announced(WEBHOOK_SECRET, id, "contract.expired");
  expect(event.data).toMatchObject({ contractId: id, status: "expired" });
  // Signed with the tenant's secret: another secret does not verify it.
  expect(() => hooks.events(`whsec_${randomBytes(24).toString("base64")}`)).toThrow();
  await mail.mailTo("hana@example.com", /Expired: Short offer 31/, 0);

  await expectError(await signer(hanaUrl), 409, "E_CONTRACT_CLOSED");
  await expectError(await signer(hanaUrl, "challenge", {}), 409, "E_CONTRACT_CLOSED");
  await expectError(await signer(ivoUrl, "sign", { consent: true, otp: "123456" }), 409, "E_CONTRACT_CLOSED");
  // Only the signer whose turn it was is reminded; nobody after the expiry.
  expect(mail.mails.some((entry) => entry.to.includes("ivo@example.com") && /Reminder/.test(entry.raw))).toBe(
    false,
  );

  const audit = (await (await api(`/v1/contracts/${id}/audit?verify=1`)).json()) as {
    entries: { type: string }[];
    verification: { valid: boolean };
  };
  expect(audit.verification.valid).toBe(true);
  const types = audit.entries.map((entry) => entry.type);
  expect(types).toContain("reminded");
  expect(types.filter((type) => type === "expired")).toHaveLength(1);
  expect(types.indexOf("expired")).toBeGreaterThan(types.indexOf("reminded"));
}, 120_000);

it("fires a pending expiry after the agent is killed and restarted (the delayed job is in Redis)", async () => {
  const expiresAt = new Date(Date.now() + 6000).toISOString();
  const { id, signers } = await created(
    await create({
      title: "Standing order 8",
      signers: [
        { name: "Jo Jansen", email: "jo@example.com", auth: { method: "access-code", code: "jo-4411" } },
      ],
      expiresAt,
      callback: { url: hooks.url },
    }),
  );
  expect((await contract(id)).status).toBe("in_progress");
  expect(Date.now()).toBeLessThan(Date.parse(expiresAt));
  await agent.kill();
  agent = await startAllInOne({}, agent);

  const expired = await contractWhen(id, (view) => view.status === "expired");
  expect(expired.status).toBe("expired");
  expect((await hooks.announced(WEBHOOK_SECRET, id, "contract.expired")).data.status).toBe("expired");
  await expectError(
    await signer(signers[0]!.url, "sign", { consent: true, code: "jo-4411" }),
    409,
    "E_CONTRACT_CLOSED",
  );
}, 240_000);

it("creates a draft with send: false, sends it later, and voids a draft", async () => {
  const title = "Draft lease 12";
  const draft = await created(
    await create({
      title,
      signers: [
        { name: "Kay Kern", email: "kay@example.com", order: 1, auth: { method: "email-otp" } },
        {
          name: "Lou Lind",
          email: "lou@example.com",
          order: 2,
          auth: { method: "access-code", code: "lou-0042" },
        },
      ],
      callback: { url: hooks.url },
      send: false,
    }),
  );
  expect(draft.status).toBe("draft");
  expect(draft.signers.map((entry) => entry.status)).toEqual(["waiting", "waiting"]);
  const [kayUrl, louUrl] = draft.signers.map((entry) => entry.url) as [string, string];
  // Not usable yet: a clear code, nothing sent (not even by the reminder job, due every two seconds).
  await expectError(await signer(kayUrl), 409, "E_CONTRACT_NOT_SENT");
  await expectError(await signer(kayUrl, "challenge", {}), 409, "E_CONTRACT_NOT_SENT");
  await expectError(await signer(kayUrl, "document"), 409, "E_CONTRACT_NOT_SENT");
  await expectError(
    await signer(louUrl, "sign", { consent: true, code: "lou-0042" }),
    409,
    "E_CONTRACT_NOT_SENT",
  );
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const toKay = () => mail.mails.filter((entry) => entry.to.includes("kay@example.com"));
  expect(toKay()).toEqual([]);
  expect(hooks.events(WEBHOOK_SECRET).filter((event) => event.data.contractId === draft.id)).toEqual([]);
  expect((await contract(draft.id)).status).toBe("draft");
  const drafts = (await (await api("/v1/contracts?status=draft")).json()) as { items: { id: string }[] };
  expect(drafts.items.map((item) => item.id)).toContain(draft.id);

  // Sent: the first signer's turn and invitation, contract.sent, and the link works.
  const sent = await api(`/v1/contracts/${draft.id}/send`, { method: "POST" });
  expect(sent.status, await sent.clone().text()).toBe(200);
  expect(await sent.json()).toMatchObject({
    status: "in_progress",
    signers: [{ status: "pending" }, { status: "waiting" }],
  });
  expect(await mail.mailTo("kay@example.com", new RegExp(`Please sign: ${title}`), 0)).toContain(kayUrl);
  await hooks.announced(WEBHOOK_SECRET, draft.id, "contract.sent");
  expect(await (await signer(kayUrl)).json()).toMatchObject({ status: "in_progress", yourTurn: true });
  const challenge = await signer(kayUrl, "challenge", {});
  expect(challenge.status, await challenge.clone().text()).toBe(200);
  await mail.mailTo("kay@example.com", /one-time code/, 0);
  await expectError(
    await signer(louUrl, "sign", { consent: true, code: "lou-0042" }),
    409,
    "E_NOT_YOUR_TURN",
  );
  // Sending again changes nothing: no second invitation, no second contract.sent.
  const again = await api(`/v1/contracts/${draft.id}/send`, { method: "POST" });
  expect(again.status, await again.clone().text()).toBe(200);
  expect(await again.json()).toMatchObject({ status: "in_progress" });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const invitations = toKay().filter((entry) => new RegExp(`Please sign: ${title}`).test(entry.raw));
  expect(invitations).toHaveLength(1);
  const sentEvents = hooks
    .events(WEBHOOK_SECRET)
    .filter((event) => event.data.contractId === draft.id && event.type === "contract.sent");
  expect(sentEvents).toHaveLength(1);

  // A draft is voided like any open contract; its signers, never invited, get no notice.
  const other = await created(
    await create({
      title: "Draft to drop",
      signers: [{ name: "Max Moll", email: "max@example.com", auth: { method: "email-otp" } }],
      callback: { url: hooks.url },
      send: false,
    }),
  );
  const voided = await api(`/v1/contracts/${other.id}/void`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ reason: "not needed" }),
  });
  expect(voided.status, await voided.clone().text()).toBe(200);
  expect(await voided.json()).toMatchObject({ status: "voided" });
  expect((await hooks.announced(WEBHOOK_SECRET, other.id, "contract.voided")).data.reason).toBe("not needed");
  await expectError(await signer(other.signers[0]!.url), 409, "E_CONTRACT_CLOSED");
  await expectError(
    await api(`/v1/contracts/${other.id}/send`, { method: "POST" }),
    409,
    "E_CONTRACT_CLOSED",
  );
  expect(mail.mails.some((entry) => entry.to.includes("max@example.com"))).toBe(false);
}, 120_000);

it("documents draft sending and the Idempotency-Key in the OpenAPI document", async () => {
  const document = (await (await fetch(`${agent.base}/openapi.json`)).json()) as {
    paths: Record<
      string,
      Record<string, { description?: string; parameters?: { in: string; name: string }[] }>
    >;
  };
  expect(document.paths["/v1/contracts/{id}/send"]?.post).toBeDefined();
  const create = document.paths["/v1/contracts"]!.post!;
  expect(create.description).toMatch(/"send": false/);
  expect(create.parameters).toContainEqual(
    expect.objectContaining({ in: "header", name: "idempotency-key" }),
  );
});

it("creates a contract once per Idempotency-Key: a retry answers the same contract, another body 422", async () => {
  const key = `offer-${randomBytes(6).toString("hex")}`;
  const title = `Offer ${key}`;
  const body = {
    title,
    signers: [{ name: "Nia Noor", email: "nia@example.com", auth: { method: "email-otp" } }],
    callback: { url: hooks.url },
  };
  // The dev key is an admin's, which lists every tenant's contracts: count the dev tenant's.
  const ofTitle = async () => {
    const listed = (await (await api("/v1/contracts?limit=200&tenant=dev")).json()) as {
      items: { title: string }[];
    };
    return listed.items.filter((item) => item.title === title).length;
  };
  // Two at once: one creates, the other answers the same contract (or, while it is being stored, 503).
  const [a, b] = await Promise.all([
    create(body, { "idempotency-key": key }),
    create(body, { "idempotency-key": key }),
  ]);
  const answers = [a, b].sort((x, y) => x.status - y.status);
  expect(answers.map((answer) => answer.status)).toContain(201);
  const first = (await answers
    .find((answer) => answer.status === 201)!
    .clone()
    .json()) as Created;
  for (const answer of answers.filter((each) => each.status !== 201)) {
    if (answer.status === 503) await expectError(answer, 503, "E_UNAVAILABLE");
    else expect(((await answer.json()) as Created).id).toBe(first.id);
  }
  // A retry later: 200, the same id and signer links; nothing new created or sent.
  const retried = await created(await create(body, { "idempotency-key": key }), 200);
  expect(retried).toEqual(first);
  expect(await ofTitle()).toBe(1);
  await mail.mailTo("nia@example.com", new RegExp(`Please sign: ${title}`), 0);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const invitations = mail.mails.filter(
    (entry) => entry.to.includes("nia@example.com") && new RegExp(`Please sign: ${title}`).test(entry.raw),
  );
  expect(invitations).toHaveLength(1);
  const sent = hooks
    .events(WEBHOOK_SECRET)
    .filter((event) => event.data.contractId === first.id && event.type === "contract.sent");
  expect(sent).toHaveLength(1);

  // The same key with another contract: refused, typed, nothing created.
  await expectError(
    await create({ ...body, title: `${title} (changed)` }, { "idempotency-key": key }),
    422,
    "E_IDEMPOTENCY_KEY_REUSED",
  );
  expect(await ofTitle()).toBe(1);
  await expectError(await create(body, { "idempotency-key": "12345" }), 400, "E_INVALID_REQUEST");

  // Keys are the tenant's own: another tenant's same key creates its own contract.
  const otherTenant = await api("/v1/contracts", {
    method: "POST",
    body: await contractForm({ ...body, callback: undefined }),
    headers: { authorization: `Bearer ${agent.otherKey}`, "idempotency-key": key },
  });
  const theirs = await created(otherTenant);
  expect(theirs.id).not.toBe(first.id);
  expect(await ofTitle()).toBe(1);
}, 120_000);
