import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, type LogLevel } from "../src";

function capture(level?: LogLevel) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ name: "test", ...(level && { level }) }, sink), lines };
}

describe("createLogger", () => {
  it("censors secrets wherever they sit: PINs, OTPs, passwords, tokens, keys, headers, secrets", () => {
    const { logger, lines } = capture();
    logger.info(
      {
        password: "pw-top",
        profile: { clientSecret: "client-secret", apiKey: "key-value-1", pin: "pin-1" },
        req: { headers: { authorization: "Bearer bearer-token", "x-api-key": "header-key", cookie: "c=1" } },
        body: { authData: [{ id: "OTP", value: "otp-value" }], SAD: "sad-value" },
        config: { tenants: { acme: { secrets: ["whsec_secret"] } } },
        s3: { credentials: { secretAccessKey: "s3-secret" } },
        token: "token-top",
      },
      "with secrets",
    );
    const line = lines.join("");
    for (const secret of [
      "pw-top",
      "client-secret",
      "key-value-1",
      "pin-1",
      "bearer-token",
      "header-key",
      "c=1",
      "otp-value",
      "sad-value",
      "whsec_secret",
      "s3-secret",
      "token-top",
    ]) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line)).toMatchObject({
      name: "test",
      profile: { pin: "[redacted]" },
      msg: "with secrets",
    });
  });

  it("keeps callback URLs readable without their credentials and query", () => {
    const { logger, lines } = capture();
    logger.info({
      job: { callback: { url: "https://erp:hunter2@erp.example.com/hooks?token=t0k3n" } },
      req: { url: "/v1/sign?callbackUrl=https%3A%2F%2Fu%3Ahunter2%40erp.example.com%2Fh&level=B-T" },
    });
    const entry = JSON.parse(lines[0]!);
    expect(entry.job.callback.url).toBe("https://erp.example.com/hooks?…");
    expect(entry.req.url).toBe("/v1/sign?callbackUrl=https%3A%2F%2Ferp.example.com%2Fh&level=B-T");
    expect(lines[0]).not.toContain("hunter2");
  });

  it("never logs a signer's token from the page or signer API path", () => {
    const { logger, lines } = capture();
    const token = "sgn_5bq3HvT0yQ-very-secret";
    for (const url of [`/s/${token}`, `/v1/signing/${token}/sign`, `/v1/signing/${token}?x=1`]) {
      logger.info({ req: { method: "GET", url } });
    }
    expect(lines.join("")).not.toContain(token);
    expect(lines.map((line) => JSON.parse(line).req.url)).toEqual([
      "/s/[token]",
      "/v1/signing/[token]/sign",
      "/v1/signing/[token]?x=1",
    ]);
  });

  it("honours the level", () => {
    const { logger, lines } = capture("warn");
    logger.info("hidden");
    logger.warn("shown");
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(["shown"]);
  });

  it("keeps credentials out of every URL in a request's query, misspelt or odd ones too", () => {
    const { logger, lines } = capture();
    const urls = [
      "/v1/sign?callbackURL=https%3A%2F%2Fu%3Ahunter2%40erp.example.com%2Fh",
      "/v1/sign?callbackUrl=https%3A%5C%5Cu%3Ahunter2%40erp.example.com%2Fh",
      "/v1/sign?callbackUrl=%20https%3A%2F%2Fu%3Ahunter2%40erp.example.com&reason=Approved%3A+final",
    ];
    for (const url of urls) logger.info({ req: { url } });
    expect(lines.join("")).not.toContain("hunter2");
    expect(JSON.parse(lines[2]!).req.url).toBe(
      "/v1/sign?callbackUrl=https%3A%2F%2Ferp.example.com%2F&reason=Approved%3A+final",
    );
  });
});
