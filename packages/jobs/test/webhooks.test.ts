import { describe, expect, it } from "vitest";
import {
  type BatchCompletedEvent,
  type JobEvent,
  WebhookDeliveryJobSchema,
  webhookDelivery,
  webhookSecretsKey,
} from "../src";
import { signResult } from "./fixtures";

const completed: JobEvent = {
  type: "job.completed",
  schemaVersion: 1,
  timestamp: "2026-11-27T23:04:12.120Z",
  data: { jobId: "contract-4711", queue: "esign-batch", tenant: "example-corp", result: signResult() },
};

const batchCompleted: BatchCompletedEvent = {
  type: "batch.completed",
  schemaVersion: 1,
  timestamp: "2026-11-28T02:00:00.000Z",
  data: {
    batchId: "batch-1",
    counts: { total: 2, pending: 0, completed: 2, failed: 0, cancelled: 0 },
    manifest: { store: "default", key: "batches/batch-1.manifest.jsonl" },
  },
};

describe("webhookDelivery", () => {
  it("signs with the secrets callback.secretId names, and keeps the job's tenant as the owner", () => {
    const delivery = webhookDelivery(completed, {
      url: "https://erp.example.com/hooks",
      secretId: "erp-hook",
    });
    expect(WebhookDeliveryJobSchema.parse(delivery)).toEqual({
      deliveryId: "esign-batch.contract-4711.job.completed",
      tenant: "example-corp",
      secretId: "erp-hook",
      url: "https://erp.example.com/hooks",
      event: { type: "job.completed", timestamp: completed.timestamp, data: completed.data },
      jobId: "contract-4711",
    });
    expect(webhookSecretsKey(delivery)).toBe("erp-hook");
  });

  it("falls back to the tenant's secrets, and to 'default' for tenant-less events", () => {
    expect(webhookSecretsKey(webhookDelivery(completed, { url: "https://a.example" }))).toBe("example-corp");
    const batch = webhookDelivery(batchCompleted, { url: "https://a.example" });
    expect(batch).toMatchObject({
      deliveryId: "batch-1.batch.completed",
      tenant: "default",
      jobId: "batch-1",
    });
    expect(batch).not.toHaveProperty("secretId");
  });

  it("gives the same outcome of the same job the same deliveryId, whenever it is announced", () => {
    const again = { ...completed, timestamp: "2026-11-27T23:09:00.000Z" };
    expect(webhookDelivery(again, { url: "https://a.example" }).deliveryId).toBe(
      webhookDelivery(completed, { url: "https://a.example" }).deliveryId,
    );
  });
});
