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
