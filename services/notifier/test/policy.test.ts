import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EsignError } from "@esign/errors";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { backoffDelayMs, loadNotifierConfigFromEnv, parseRetryAfter, signatureHeader } from "../src/index";
import { decideAfterAttempt, type RetryPolicy } from "../src/retry-policy";
import { newSecret } from "./harness";

const policy: RetryPolicy = {
  retryWindowSeconds: 3600,
  retryBaseDelayMs: 1000,
  retryMaxDelayMs: 60_000,
  clientErrorAttempts: 3,
};
const answer = (status: number, retryAfterMs?: number) => ({ kind: "answer" as const, status, retryAfterMs });

describe("retry decisions", () => {
  const start = 1_000_000;
  const decide = (result: Parameters<typeof decideAfterAttempt>[0], attempt = 1, random = () => 0.5) =>
    decideAfterAttempt(result, attempt, start, start, policy, random);

  it("delivers on 2xx and disables on 410", () => {
    expect(decide(answer(204))).toEqual({ kind: "delivered" });
    expect(decide(answer(410))).toMatchObject({ kind: "failed", disableEndpoint: true });
  });

  it("waits for Retry-After on 429/503 when it is longer than the backoff", () => {
    expect(decide(answer(429, 30_000))).toEqual({ kind: "retry", at: start + 30_000 });
    expect(decide(answer(503, 10))).toEqual({ kind: "retry", at: start + 750 });
  });

  it("retries other 4xx clientErrorAttempts times, 408/425/429 and 5xx for the whole window", () => {
    expect(decide(answer(404), 2).kind).toBe("retry");
    expect(decide(answer(404), 3)).toMatchObject({ kind: "failed", disableEndpoint: false });
    expect(decide(answer(408), 9).kind).toBe("retry");
    expect(decide(answer(500), 9).kind).toBe("retry");
    expect(decide(answer(302))).toMatchObject({ kind: "failed", reason: "redirects are not followed" });
  });

  it("fails permanent errors at once and transient ones when the window is spent", () => {
    const forbidden = { kind: "error" as const, error: new EsignError("E_FORBIDDEN", "ssrf: private") };
    expect(decide(forbidden)).toMatchObject({ kind: "failed", reason: "ssrf: private" });
    const unreachable = { kind: "error" as const, error: new EsignError("E_WEBHOOK", "refused") };
    expect(decide(unreachable).kind).toBe("retry");
    const late = decideAfterAttempt(unreachable, 5, start, start + 3600 * 1000, policy);
    expect(late).toMatchObject({
      kind: "failed",
      reason: expect.stringMatching(/window of 3600 s exhausted/),
    });
    expect(decide(answer(429, 4000 * 1000))).toMatchObject({ kind: "failed" });
  });

  it("backs off exponentially between half and all of the capped delay", () => {
    expect(backoffDelayMs(1, policy, () => 0)).toBe(500);
    expect(backoffDelayMs(1, policy, () => 1)).toBe(1000);
    expect(backoffDelayMs(4, policy, () => 0)).toBe(4000);
    expect(backoffDelayMs(30, policy, () => 1)).toBe(60_000);
  });

  it("parses Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe("signatureHeader", () => {
  it("matches the standardwebhooks reference implementation", () => {
    const secret = newSecret();
    const key = Buffer.from(secret.slice("whsec_".length), "base64");
    const body = JSON.stringify({ type: "job.failed", timestamp: "2026-01-01T00:00:00Z", data: { é: "ü" } });
    const reference = new Webhook(secret).sign("msg_1", new Date(1_767_225_600_000), body);
    expect(signatureHeader([key], "msg_1", 1_767_225_600, body)).toBe(reference);
  });
});

describe("loadNotifierConfigFromEnv", () => {
  const dir = mkdtempSync(join(tmpdir(), "notifier-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const secret = newSecret();
  const secretsFile = join(dir, "secrets.json");
  writeFileSync(secretsFile, JSON.stringify({ tenants: { acme: { secrets: [secret, newSecret()] } } }));
  const base = { REDIS_URL: "redis://127.0.0.1:6379", WEBHOOK_SECRETS_FILE: secretsFile };

  it("reads secrets from a file and lists from comma-separated variables", () => {
    const config = loadNotifierConfigFromEnv({
      ...base,
      WEBHOOK_ALLOW_HOSTS: "Hooks.Corp.Example, *.erp.local",
      WEBHOOK_ALLOW_CIDRS: "10.0.0.0/8,fd00::/8",
      WEBHOOK_RETRY_WINDOW_SECONDS: "600",
      WEBHOOK_TIMEOUT_MS: "2500",
    });
    expect(config.tenants.acme!.secrets).toHaveLength(2);
    expect(config.tenants.acme!.secrets[0]!.toString("base64")).toBe(secret.slice(6));
    expect(config.allowHosts).toEqual(["hooks.corp.example", "*.erp.local"]);
    expect(config.allowCidrs).toEqual(["10.0.0.0/8", "fd00::/8"]);
    expect(config).toMatchObject({ retryWindowSeconds: 600, timeoutMs: 2500, queuePrefix: "{esign}" });
  });

  it("defaults to a 24 h retry window, the local Redis and LOG_LEVEL info", () => {
    expect(loadNotifierConfigFromEnv({ WEBHOOK_SECRETS_FILE: secretsFile })).toMatchObject({
      retryWindowSeconds: 86_400,
      redisUrl: "redis://127.0.0.1:6379",
      logLevel: "info",
    });
    expect(loadNotifierConfigFromEnv({ ...base, LOG_LEVEL: "warn" }).logLevel).toBe("warn");
  });

  it('reads the secrets file named the way every secret is named: {"file": path}', () => {
    const config = loadNotifierConfigFromEnv({ WEBHOOK_SECRETS: JSON.stringify({ file: secretsFile }) });
    expect(config.tenants.acme!.secrets[0]!.toString("base64")).toBe(secret.slice(6));
  });

  it.each([
    [{ REDIS_URL: "http://127.0.0.1:6379" }, /REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ WEBHOOK_ALLOW_CIDRS: "10.0.0.0/33" }, /WEBHOOK_ALLOW_CIDRS.0: expected a CIDR/],
    [{ WEBHOOK_TIMEOUT_MS: "soon" }, /WEBHOOK_TIMEOUT_MS: must be a whole number/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL: Invalid option/],
    [{ WEBHOOK_SECRETS: "{}" }, /set either WEBHOOK_SECRETS or WEBHOOK_SECRETS_FILE, not both/],
    [{ WEBHOOK_SECRETS_FILE: undefined }, /WEBHOOK_SECRETS or WEBHOOK_SECRETS_FILE: is not set/],
    [
      { WEBHOOK_SECRETS_FILE: join(dir, "missing.json") },
      /WEBHOOK_SECRETS_FILE: cannot read .*missing\.json/,
    ],
  ])("rejects %o with a clear message", (overrides, message) => {
    expect(() => loadNotifierConfigFromEnv({ ...base, ...overrides })).toThrow(message);
  });

  it("rejects bad secrets without echoing them", () => {
    const short = "whsec_c2hvcnQ=";
    const env = {
      REDIS_URL: base.REDIS_URL,
      WEBHOOK_SECRETS: JSON.stringify({ tenants: { acme: { secrets: [short] } } }),
    };
    expect(() => loadNotifierConfigFromEnv(env)).toThrow(/must decode to 24..64 bytes, got 5/);
    expect(() => loadNotifierConfigFromEnv(env)).not.toThrow(/c2hvcnQ/);
    const broken = { REDIS_URL: base.REDIS_URL, WEBHOOK_SECRETS: `{"tenants": ${secret}` };
    expect(() => loadNotifierConfigFromEnv(broken)).toThrow(/WEBHOOK_SECRETS: is not valid JSON$/);
    expect(() => loadNotifierConfigFromEnv(broken)).not.toThrow(secret.slice(6));
  });
});
