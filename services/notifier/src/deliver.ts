import { EsignError, isEsignError } from "@esign/errors";
import {
  type DeliveryAttempt,
  type DeliveryOutcome,
  recordDeliveryAttempt,
  type WebhookDeliveryJob,
  webhookSecretsKey,
} from "@esign/jobs";
import { loggableUrl } from "@esign/runtime";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { NotifierConfig } from "./config";
import { deadlineIn } from "./deadline";
import { disableEndpoint, getDisabledEndpoint } from "./endpoints";
import { postToDestination } from "./http";
import type { DeliveryCounter } from "./metrics";
import { type AttemptResult, type Decision, decideAfterAttempt, parseRetryAfter } from "./retry-policy";
import { signatureHeader } from "./secrets";
import type { DestinationGuard } from "./ssrf";

export interface DelivererDependencies {
  redis: Redis;
  config: NotifierConfig;
  guard: DestinationGuard;
  logger: Logger;
  counter?: DeliveryCounter | undefined;
}

/** What the queue must do next with a delivery. */
export type NextStep = { kind: "done" } | { kind: "retry"; at: number } | { kind: "failed"; reason: string };

const USER_AGENT = "esign-agent-notifier/0.1";

/**
 * Runs one attempt of one delivery — signing, SSRF check, POST — and records it. Stateless:
 * the attempt number and the retry window start come from the queue, so a restart resumes.
 */
export class WebhookDeliverer {
  constructor(private readonly deps: DelivererDependencies) {}

  async attempt(delivery: WebhookDeliveryJob, attempt: number, windowStart: number): Promise<NextStep> {
    const { redis, config } = this.deps;
    const prefix = { prefix: config.queuePrefix };
    const startedAt = Date.now();
    const disabled = await getDisabledEndpoint(redis, delivery.tenant, delivery.url, prefix);
    if (disabled !== undefined) {
      const reason = `endpoint disabled since ${disabled.disabledAt} (answered ${disabled.statusCode} to ${disabled.deliveryId})`;
      await this.#record(delivery, {
        attempt,
        at: startedAt,
        durationMs: 0,
        outcome: "skipped",
        error: { code: "E_NOT_FOUND", message: reason },
      });
      return { kind: "done" };
    }

    const result = await this.#send(delivery);
    const finishedAt = Date.now();
    const decision = decideAfterAttempt(result, attempt, windowStart, finishedAt, config);
    if (decision.kind === "failed" && decision.disableEndpoint) {
      const reason = {
        disabledAt: new Date(finishedAt).toISOString(),
        deliveryId: delivery.deliveryId,
        statusCode: 410,
      };
      await disableEndpoint(redis, delivery.tenant, delivery.url, reason, prefix);
    }
    await this.#record(delivery, {
      attempt,
      at: startedAt,
      durationMs: finishedAt - startedAt,
      outcome: outcomeOf(decision),
      ...(result.kind === "answer" ? { statusCode: result.status } : {}),
      ...errorOf(result, decision),
      ...(decision.kind === "retry" ? { nextRetryAt: new Date(decision.at).toISOString() } : {}),
    });
    if (decision.kind === "delivered") return { kind: "done" };
    return decision.kind === "retry" ? decision : { kind: "failed", reason: decision.reason };
  }

  async #send(delivery: WebhookDeliveryJob): Promise<AttemptResult> {
    const { config, guard } = this.deps;
    try {
      const secretsKey = webhookSecretsKey(delivery);
      const keys = config.tenants[secretsKey]?.secrets;
      if (keys === undefined) {
        const named = delivery.secretId === undefined ? "tenant" : "secretId";
        throw new EsignError("E_CONFIG", `no webhook secrets configured for ${named} ${secretsKey}`);
      }
      const deadline = deadlineIn(config.timeoutMs);
      const destination = await guard.check(delivery.url, deadline);
      const { type, timestamp, data } = delivery.event;
      const body = JSON.stringify({ type, timestamp, data });
      const timestampSeconds = Math.floor(Date.now() / 1000);
      const headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.deliveryId,
        "webhook-timestamp": String(timestampSeconds),
        "webhook-signature": signatureHeader(keys, delivery.deliveryId, timestampSeconds, body),
      };
      const answer = await postToDestination(destination, headers, body, deadline);
      const retryAfter = answer.headers["retry-after"];
      return { kind: "answer", status: answer.status, retryAfterMs: parseRetryAfter(retryAfter, Date.now()) };
    } catch (error) {
      if (isEsignError(error)) return { kind: "error", error };
      throw error;
    }
  }

  async #record(
    delivery: WebhookDeliveryJob,
    attempt: Omit<DeliveryAttempt, "deliveryId" | "eventType" | "url" | "at"> & { at: number },
  ): Promise<void> {
    const { redis, config, logger, counter } = this.deps;
    const entry: DeliveryAttempt = {
      ...attempt,
      deliveryId: delivery.deliveryId,
      eventType: delivery.event.type,
      url: loggableUrl(delivery.url),
      at: new Date(attempt.at).toISOString(),
    };
    // Counted first: once an entry is readable, its metric is too.
    counter?.inc({ outcome: entry.outcome });
    await recordDeliveryAttempt(
      redis,
      delivery.jobId ?? delivery.deliveryId,
      entry,
      { size: config.deliveryLogSize, ttlSeconds: config.deliveryLogTtlSeconds },
      { prefix: config.queuePrefix },
    );
    const level = entry.outcome === "delivered" ? "info" : entry.outcome === "retrying" ? "warn" : "error";
    logger[level]({ tenant: delivery.tenant, jobId: delivery.jobId, ...entry }, `webhook ${entry.outcome}`);
  }
}

function outcomeOf(decision: Decision): DeliveryOutcome {
  if (decision.kind === "delivered") return "delivered";
  return decision.kind === "retry" ? "retrying" : "failed";
}

function errorOf(result: AttemptResult, decision: Decision): Pick<DeliveryAttempt, "error"> {
  if (decision.kind === "delivered") return {};
  if (result.kind === "error") {
    const { code, message } = result.error;
    const giveUp = decision.kind === "failed" && decision.reason !== message ? `; ${decision.reason}` : "";
    return { error: { code, message: `${message}${giveUp}` } };
  }
  const giveUp = decision.kind === "failed" ? `; ${decision.reason}` : "";
  const code = result.status === 410 ? "E_NOT_FOUND" : "E_WEBHOOK";
  return { error: { code, message: `answered ${result.status}${giveUp}` } };
}
