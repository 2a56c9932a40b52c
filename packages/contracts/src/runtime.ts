import { CONTRACTS_QUEUE, QUEUES } from "@esign/jobs";
import { DEFAULT_STORE, type StoreRegistry } from "@esign/storage";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { ContractSettings } from "./config";
import { AuditTrail } from "./evidence/audit-trail";
import { createMailer } from "./notify/mailer";
import { createSmsSender } from "./notify/sms";
import { ContractSecrets } from "./secrets";
import { ContractService } from "./service";
import { ContractStore } from "./store";

/** The e-contract engine as one process (gateway or worker) runs it. */
export interface ContractRuntime {
  service: ContractService;
  store: ContractStore;
  audit: AuditTrail;
  /** The store that holds every contract's folder (`contracts/<id>/`: versions and audit trail). */
  documentStore: string;
  /** Who asks for the signatures (CONTRACT_SENDER_NAME): named in invitations and on the signer page. */
  senderName: string;
  close(): Promise<void>;
}

/**
 * Builds the engine from the shared settings; undefined when e-contracts are off (no
 * ESIGN_CONTRACT_SECRET).
 */
export function createContractRuntime(options: {
  settings: ContractSettings;
  redis: Redis;
  /**
   * For the blocking reads of QueueEvents (a gateway waiting for a signature); default `redis`.
   * A gateway's `redis` has a command timeout that a blocking read must not have.
   */
  eventsConnection?: Redis;
  prefix: string;
  stores: StoreRegistry;
  /** Base URL of the gateway when ESIGN_PUBLIC_URL is unset. */
  defaultPublicUrl: string;
  logger: Logger;
}): ContractRuntime | undefined {
  const { settings, redis, prefix, logger } = options;
  if (!settings.contractSecret) return undefined;
  // Contract documents and audit trails live together under contracts/<id>/ in one store.
  const documentStore = settings.contractStore ?? DEFAULT_STORE;
  const senderName = settings.contractSenderName ?? "esign-agent";
  const store = new ContractStore(redis, prefix);
  const queue = new Queue(CONTRACTS_QUEUE, { connection: redis, prefix });
  const webhooks = new Queue(QUEUES.webhooks, { connection: redis, prefix });
  // A Redis outage surfaces in the calls that fail (E_UNAVAILABLE); unheard 'error' events would crash the process.
  for (const each of [queue, webhooks]) {
    each.on("error", (error) =>
      logger.warn({ err: error, queue: each.name }, "contract queue connection error"),
    );
  }
  const mailer = createMailer({
    smtpUrl: settings.smtpUrl,
    from: settings.mailFrom ?? "esign-agent <no-reply@esign-agent.invalid>",
    redis,
    keyPrefix: prefix,
    logger,
  });
  const audit = new AuditTrail({
    redis,
    keyPrefix: prefix,
    store: options.stores.get(documentStore),
    folderOf: (contractId: string) => ({ store: documentStore, key: `contracts/${contractId}` }),
  });
  const service = new ContractService({
    store,
    documents: options.stores.get(documentStore),
    secrets: new ContractSecrets(settings.contractSecret),
    queue,
    eventsConnection: options.eventsConnection ?? redis,
    webhooks,
    mailer,
    sms: createSmsSender({ webhookUrl: settings.smsWebhookUrl }),
    audit,
    publicUrl: settings.publicUrl ?? options.defaultPublicUrl,
    remindAfterMs: (settings.contractRemindAfterHours ?? 72) * 3600_000,
    senderName,
    logger,
  });
  return {
    service,
    store,
    audit,
    documentStore,
    senderName,
    async close() {
      await service.close();
      await mailer.close();
      await Promise.all([queue.close(), webhooks.close()]);
    },
  };
}
