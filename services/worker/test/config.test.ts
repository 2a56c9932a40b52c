import { isEsignError } from "@esign/errors";
import { describe, expect, it } from "vitest";
import { loadWorkerConfig } from "../src/config";
import { createSignerRegistry } from "../src/signer-profiles";

const STORES = JSON.stringify({ default: { type: "local", root: "/tmp/esign-objects" } });
const SIGNERS = JSON.stringify({
  seal: { type: "p12", p12Path: "/run/secrets/seal.p12", password: { env: "SEAL_PASSWORD" } },
  remote: {
    type: "esign-api",
    url: "https://signing.example",
    apiKey: { file: "/run/secrets/api-key" },
    credentialId: "seal-rsa",
    contentsSize: 16384,
  },
});

function configError(env: Record<string, string>): string {
  try {
    loadWorkerConfig(env);
  } catch (error) {
    if (isEsignError(error) && error.code === "E_CONFIG") return error.message;
    throw error;
  }
  throw new Error("expected E_CONFIG");
}

describe("loadWorkerConfig", () => {
  it("reads the environment with defaults for everything but stores and signers", () => {
    const config = loadWorkerConfig({
      ESIGN_STORES: STORES,
      ESIGN_SIGNERS: SIGNERS,
      SIGNING_RATE_LIMIT: "20",
      METRICS_PORT: "9464",
      WORKER_QUEUES: "esign-batch",
      WORKER_CONCURRENCY: "",
    });
    expect(config).toMatchObject({
      redisUrl: "redis://127.0.0.1:6379",
      prefix: "{esign}",
      queues: ["esign-batch"],
      concurrency: 8,
      signingRateLimit: 20,
      metricsPort: 9464,
      maxStalledCount: 3,
    });
    expect(config.signers.remote).toMatchObject({ type: "esign-api", contentsSize: 16384 });
  });

  it("names every bad variable", () => {
    const message = configError({
      ESIGN_STORES: "{not json",
      ESIGN_SIGNERS: SIGNERS,
      SIGNING_RATE_LIMIT: "0",
      WORKER_QUEUES: "esign-sign,esign-webhooks",
    });
    expect(message).toContain("ESIGN_STORES");
    expect(message).toContain("SIGNING_RATE_LIMIT");
    expect(message).toContain("WORKER_QUEUES");
  });

  it("refuses secrets written into the profile instead of referenced", () => {
    const inline = JSON.stringify({ seal: { type: "p12", p12Path: "/x.p12", password: "hunter2" } });
    expect(configError({ ESIGN_STORES: STORES, ESIGN_SIGNERS: inline })).toContain("ESIGN_SIGNERS");
    const inlinePdfPassword = JSON.stringify({
      seal: {
        type: "p12",
        p12Path: "/x.p12",
        password: { env: "SEAL_PASSWORD" },
        pdfPasswords: { invoices: "hunter2" },
      },
    });
    expect(configError({ ESIGN_STORES: STORES, ESIGN_SIGNERS: inlinePdfPassword })).toContain(
      "ESIGN_SIGNERS",
    );
  });
});

describe("createSignerRegistry", () => {
  it("stops at start-up when a profile's secret is missing, naming the variable", async () => {
    const config = loadWorkerConfig({ ESIGN_STORES: STORES, ESIGN_SIGNERS: SIGNERS });
    delete process.env.SEAL_PASSWORD;
    await expect(createSignerRegistry(config.signers)).rejects.toMatchObject({
      code: "E_CONFIG",
      message: expect.stringContaining("SEAL_PASSWORD"),
    });
  });
});
