import { createHash, randomBytes, randomUUID } from "node:crypto";
import { EsignError, isErrorCode, isEsignError } from "@esign/errors";
import {
  type ContractEvent,
  type ContractEventType,
  type ContractJob,
  contractJobId,
  enqueueDelivery,
  parseFailureReason,
  waitForJobOutcome,
  webhookDelivery,
} from "@esign/jobs";
import type { ObjectRef, ObjectStore } from "@esign/storage";
import { type Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { AuditEventType, AuditTrail } from "./evidence/audit-trail";
import type { ContractRecord, CreateContract, SignerRecord } from "./model";
import type { Mailer } from "./notify/mailer";
import { type Notice, renderNotice } from "./notify/messages";
import type { SmsSender } from "./notify/sms";
import {
  type ContractSecrets,
  hashAccessCode,
  hashToken,
  newOtp,
  newSignerToken,
  verifyAccessCode,
} from "./secrets";
import {
  advanceTurn,
  assertLinkUsable,
  assertMayAct,
  decline,
  expireIfDue,
  isClosed,
  MAX_AUTH_ATTEMPTS,
  recordFailedAttempt,
  type SignaturePlacement,
  sealDue,
  sendDraft,
  signatureImageRef,
  signaturePlacement,
  signerOf,
  signingRefused,
  startSigning,
  voidContract,
} from "./state";
import { type ContractStore, type IdempotencyClaim, OTP_TTL_SECONDS } from "./store";

/** Who made a signer request: recorded in the audit trail and the signature evidence. */
export interface RequestOrigin {
  ip?: string;
  userAgent?: string;
}

/** The API key that acted on a contract (never the key itself): its tenant, name and whether it is an admin key. */
export interface ContractActor {
  tenant: string;
  keyName: string;
  admin: boolean;
}

export interface ContractServiceDeps {
  store: ContractStore;
  /** The object store of contract documents, where signers' signature images are kept too. */
  documents: ObjectStore;
  secrets: ContractSecrets;
  /** The `esign-contracts` queue. */
  queue: Queue;
  /** Connection QueueEvents duplicates for its blocking reads (no command timeout). */
  eventsConnection: Redis;
  /** The `esign-webhooks` queue. */
  webhooks: Queue;
  mailer: Mailer;
  sms: SmsSender;
  audit: AuditTrail;
  /** ESIGN_PUBLIC_URL: signer links are `<publicUrl>/s/<token>`. */
  publicUrl: string;
  /** Reminders go to signers whose turn it is this long after the last invitation; 0: none. */
  remindAfterMs: number;
  /** Name invitations give as the sender. */
  senderName: string;
  logger: Logger;
}

const CHALLENGE_WAIT_MS = 30_000;
/** Beside the queue's events: a finished job the events connection did not hear of is found this fast. */
const JOB_POLL_MS = 250;
/** Finished contract jobs stay a day: a second click within it finds the outcome. */
const JOB_RETENTION = { removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };

/** The outcome a `sign` job returns; a refused PIN/OTP is an outcome, not a failure to retry. */
export type SignJobOutcome = { outcome: "signed" } | { outcome: "refused"; message: string; locked: boolean };

/** The signer view `GET /v1/signing/<token>` answers. */
export interface SignerView {
  contractId: string;
  title: string;
  status: ContractRecord["status"];
  signer: { id: string; name: string; email: string; status: SignerRecord["status"]; order: number };
  auth: { method: SignerRecord["method"] };
  yourTurn: boolean;
  attemptsLeft: number;
  /** Where this signer's visible signature will go. */
  placement: SignaturePlacement;
  /** The language the contract names: the signer page starts in it. */
  language?: ContractRecord["language"];
}

/**
 * The e-contract engine's transitions, as the gateway and the worker run them: each one a
 * compare-and-set of the contract in Redis, followed by its audit event, notices and webhook.
 */
export class ContractService {
  private events: QueueEvents | undefined;

  constructor(readonly deps: ContractServiceDeps) {}

  signerUrl(token: string): string {
    return `${this.deps.publicUrl.replace(/\/+$/, "")}/s/${token}`;
  }

  private tokenOf(contract: ContractRecord, signer: SignerRecord): string {
    return this.deps.secrets.open(signer.tokenBox, `${contract.id}:${signer.id}`);
  }

  private linkOf(contract: ContractRecord, signer: SignerRecord): string {
    return this.signerUrl(this.tokenOf(contract, signer));
  }

  /** Every signer's link by signer id (for answering a repeated creation as the first one was). */
  links(contract: ContractRecord): Map<string, string> {
    return new Map(contract.signers.map((signer) => [signer.id, this.linkOf(contract, signer)]));
  }

  /**
   * Creates an in-progress contract, invites the first signers and schedules expiry and reminders;
   * with `send: false` a draft, which only has its expiry scheduled until `send`.
   */
  async create(input: {
    tenant: string;
    contract: CreateContract;
    id: string;
    original: ObjectRef;
    originalSha256: string;
    sealProfile: string;
    origin: RequestOrigin;
    /** The request's claimed Idempotency-Key, kept with the contract. */
    idempotency?: { key: string; claim: IdempotencyClaim };
  }): Promise<{ contract: ContractRecord; links: Map<string, string> }> {
    const now = new Date().toISOString();
    const links = new Map<string, string>();
    const signers: SignerRecord[] = input.contract.signers.map((signer, index) => {
      const id = `s${index + 1}`;
      const token = newSignerToken();
      links.set(id, this.signerUrl(token));
      return {
        id,
        name: signer.name,
        email: signer.email,
        ...(signer.phone && { phone: signer.phone }),
        order: signer.order,
        method: signer.auth.method,
        ...(signer.auth.method === "esign-api" && { credentialId: signer.auth.credentialId }),
        ...(signer.auth.method === "access-code" && { accessCodeHash: hashAccessCode(signer.auth.code) }),
        status: "waiting",
        tokenHash: hashToken(token),
        tokenBox: this.deps.secrets.seal(token, `${input.id}:${id}`),
        failedAttempts: 0,
        signAttempt: 0,
      };
    });
    const contract: ContractRecord = {
      id: input.id,
      tenant: input.tenant,
      title: input.contract.title,
      status: input.contract.send ? "in_progress" : "draft",
      createdAt: now,
      updatedAt: now,
      ...(input.contract.expiresAt && { expiresAt: new Date(input.contract.expiresAt).toISOString() }),
      original: input.original,
      originalSha256: input.originalSha256,
      current: input.original,
      currentSha256: input.originalSha256,
      revisions: 0,
      sealProfile: input.sealProfile,
      ...(input.contract.seal && { sealLevel: input.contract.seal.level }),
      ...(input.contract.callback && { callback: input.contract.callback }),
      ...(input.contract.owner && { owner: input.contract.owner }),
      ...(input.contract.language && { language: input.contract.language }),
      signers,
    };
    const invited = input.contract.send ? advanceTurn(contract) : [];
    await this.deps.store.create(contract, input.idempotency);
    await this.audit(contract, "created", undefined, input.origin, {
      title: contract.title,
      originalSha256: contract.originalSha256,
      signers: signers.map(({ id, name, email, order, method }) => ({ id, name, email, order, method })),
    });
    if (input.contract.send) {
      await this.invite(contract, invited, "invitation");
      await this.announce(contract, "contract.sent");
      await this.scheduleReminder(contract, 1);
    }
    if (contract.expiresAt) {
      await this.enqueue(
        { kind: "expire", contractId: contract.id },
        { delay: Math.max(0, Date.parse(contract.expiresAt) - Date.now()) },
      );
    }
    return { contract, links };
  }

  /**
   * Sends a draft: the first signers' turn, their invitations, `contract.sent` and the reminders. A
   * repeated send of a contract in progress only catches up on invitations not delivered yet.
   */
  async send(id: string, tenant: string): Promise<ContractRecord> {
    await this.deps.store.require(id, tenant);
    const now = new Date().toISOString();
    const { contract, result: sent } = await this.deps.store.update(id, (current) => sendDraft(current, now));
    await this.followUp(id);
    if (sent) {
      await this.announce(contract, "contract.sent");
      await this.scheduleReminder(contract, 1);
    }
    return this.deps.store.require(id);
  }

  /** What the signer's page shows; the first look is audited as `viewed` (a page that polls is not). */
  async view(token: string, origin: RequestOrigin): Promise<SignerView> {
    const found = await this.openLink(token);
    if (found.signer.viewedAt) return signerView(found.contract, found.signer);
    const now = new Date().toISOString();
    const { contract, result: first } = await this.deps.store.update(found.contract.id, (current) => {
      const target = signerOf(current, found.signer.id);
      if (target.viewedAt) return false;
      target.viewedAt = now;
      return true;
    });
    const signer = signerOf(contract, found.signer.id);
    if (first) await this.audit(contract, "viewed", signer, origin);
    return signerView(contract, signer);
  }

  /** The PDF a signer may download: as it stands while open, the signed one once completed. */
  async documentFor(token: string): Promise<ContractRecord> {
    const { contract } = await this.deps.store.byToken(token);
    if (contract.status !== "completed") assertLinkUsable(contract);
    return contract;
  }

  /**
   * The signer's link, for signer routes: E_CONTRACT_NOT_SENT while the contract is a draft,
   * E_CONTRACT_CLOSED once it is closed.
   */
  async openLink(token: string): Promise<{ contract: ContractRecord; signer: SignerRecord }> {
    const found = await this.deps.store.byToken(token);
    assertLinkUsable(found.contract);
    return found;
  }

  /**
   * Sends the signer's one-time password: ours by e-mail or SMS, or, for `esign-api` signers,
   * the signing service's (its credentials/sendOTP, run by the worker that holds the service's
   * credentials). Access-code signers need none.
   */
  async challenge(
    token: string,
    origin: RequestOrigin,
  ): Promise<{ method: SignerRecord["method"]; sent: boolean; to?: string; expiresAt?: string }> {
    const { contract, signer } = await this.openLink(token);
    assertMayAct(contract, signer);
    if (signer.method === "access-code") return { method: signer.method, sent: false };
    if (signer.method === "esign-api") {
      await this.runJob(
        { kind: "challenge", contractId: contract.id, signerId: signer.id },
        CHALLENGE_WAIT_MS,
        randomBytes(8).toString("hex"),
      );
      await this.audit(contract, "otp.sent", signer, origin, { channel: "signing-service" });
      return { method: signer.method, sent: true };
    }
    const code = newOtp();
    await this.deps.store.saveOtp(
      contract.id,
      signer.id,
      this.deps.secrets.hashOtp(otpSubject(contract, signer), code),
    );
    const notice: Notice = {
      kind: "otp",
      contractTitle: contract.title,
      signerName: signer.name,
      code,
      minutes: OTP_TTL_SECONDS / 60,
    };
    const to = signer.method === "sms-otp" ? signer.phone! : signer.email;
    const rendered = renderNotice(notice, contract.language);
    if (signer.method === "sms-otp") await this.deps.sms.send(to, rendered.text);
    else await this.deps.mailer.send({ to, ...rendered });
    await this.audit(contract, "otp.sent", signer, origin, {
      channel: signer.method === "sms-otp" ? "sms" : "email",
    });
    return {
      method: signer.method,
      sent: true,
      to: maskAddress(to),
      expiresAt: new Date(Date.now() + OTP_TTL_SECONDS * 1000).toISOString(),
    };
  }

  /**
   * Authenticates the signer and has the worker apply their signature, waiting for it. A second
   * request while the signature is being applied waits for the same job; one after it finds the
   * signer signed. Wrong codes are counted (E_AUTH_FAILED), the fifth locks the signer (E_LOCKED)
   * and tells the owner.
   */
  async sign(
    token: string,
    body: {
      consent?: boolean;
      otp?: string;
      pin?: string;
      code?: string;
      /** PNG bytes of a drawn or typed signature, checked (readSignatureImage). */
      signatureImage?: Uint8Array;
    },
    origin: RequestOrigin,
    waitMs: number,
  ): Promise<SignerView> {
    const { contract, signer } = await this.openLink(token);
    if (signer.status === "signed") return signerView(contract, signer);
    if (body.consent !== true) {
      throw new EsignError(
        "E_INVALID_REQUEST",
        "consent must be true: the signer agrees to sign electronically",
      );
    }
    if (signer.status !== "signing") {
      assertMayAct(contract, signer);
      await this.authenticate(contract, signer, body, origin);
    }
    // Kept beside the document, not in the record (rewritten on every transition) nor in the job.
    const image =
      body.signatureImage && (await this.keepSignatureImage(contract, signer, body.signatureImage));
    const { result: started } = await this.deps.store.update(contract.id, (current) => {
      const target = signerOf(current, signer.id);
      const fresh = startSigning(current, target, origin);
      if (fresh) target.signatureImage = image;
      return { fresh, attempt: target.signAttempt };
    });
    // Only the request that started this attempt hands its PIN and OTP over; a second click joins.
    if (signer.method === "esign-api" && started.fresh) {
      await this.deps.store.putHandoff(this.deps.secrets, contract.id, signer.id, started.attempt, {
        pin: body.pin!,
        otp: body.otp!,
      });
    }
    let outcome: SignJobOutcome | undefined;
    try {
      outcome = (await this.runJob(
        { kind: "sign", contractId: contract.id, signerId: signer.id, attempt: started.attempt },
        waitMs,
      )) as SignJobOutcome | undefined;
    } catch (error) {
      // Still signing: the signer's state says so (202 at the route), the page asks again.
      if (!isEsignError(error) || error.code !== "E_TIMEOUT") throw error;
    }
    if (outcome?.outcome === "refused") {
      if (outcome.locked) throw new EsignError("E_LOCKED", "too many failed attempts: this signer is locked");
      throw new EsignError("E_AUTH_FAILED", outcome.message);
    }
    const after = await this.deps.store.require(contract.id);
    return signerView(after, signerOf(after, signer.id));
  }

  private async keepSignatureImage(
    contract: ContractRecord,
    signer: SignerRecord,
    bytes: Uint8Array,
  ): Promise<ObjectRef> {
    const ref = signatureImageRef(contract, signer.id, createHash("sha256").update(bytes).digest("hex"));
    await this.deps.documents.write(ref.key, [bytes], { contentType: "image/png" });
    return ref;
  }

  /** Checks the OTP or access code (`esign-api` signers are checked by the signing service). */
  private async authenticate(
    contract: ContractRecord,
    signer: SignerRecord,
    body: { otp?: string; pin?: string; code?: string },
    origin: RequestOrigin,
  ): Promise<void> {
    if (signer.method === "esign-api") {
      if (!body.pin || !body.otp) {
        throw new EsignError(
          "E_INVALID_REQUEST",
          "pin and otp are required (request the OTP with /challenge)",
        );
      }
      return;
    }
    const given = signer.method === "access-code" ? body.code : body.otp;
    if (!given) {
      throw new EsignError(
        "E_INVALID_REQUEST",
        `${signer.method === "access-code" ? "code" : "otp"} is required`,
      );
    }
    let passed: boolean;
    if (signer.method === "access-code") {
      passed = verifyAccessCode(given, signer.accessCodeHash ?? "");
    } else {
      const stored = await this.deps.store.otpHash(contract.id, signer.id);
      passed =
        stored !== undefined && this.deps.secrets.verifyOtp(otpSubject(contract, signer), given, stored);
    }
    if (!passed) {
      // A double click: the first request used the code up and started signing; join it.
      const now = signerOf(await this.deps.store.require(contract.id), signer.id);
      if (now.status === "signing" || now.status === "signed") return;
    }
    if (passed) {
      if (signer.method !== "access-code") await this.deps.store.deleteOtp(contract.id, signer.id);
      await this.audit(contract, "otp.passed", signer, origin, { method: signer.method });
      return;
    }
    await this.failedAttempt(contract.id, signer.id, origin, signer.method);
  }

  /** Counts a failed attempt (locking the signer at the limit) and throws what the signer gets. */
  async failedAttempt(
    contractId: string,
    signerId: string,
    origin: RequestOrigin,
    method: string,
    refusedBySigningService = false,
  ): Promise<never> {
    const { contract, result: locked } = await this.deps.store.update(contractId, (current) => {
      const target = signerOf(current, signerId);
      return refusedBySigningService ? signingRefused(target) : recordFailedAttempt(target);
    });
    const signer = signerOf(contract, signerId);
    await this.audit(contract, "otp.failed", signer, origin, {
      method,
      failedAttempts: signer.failedAttempts,
    });
    if (locked) {
      await this.audit(contract, "locked", signer, origin);
      if (contract.owner) {
        await this.notify(contract, contract.owner.email, {
          kind: "signer-locked",
          contractTitle: contract.title,
          signerName: signer.name,
        });
      }
      throw new EsignError(
        "E_LOCKED",
        "too many failed attempts: this signer is locked; the sender was told",
      );
    }
    throw new EsignError(
      "E_AUTH_FAILED",
      `wrong ${method === "access-code" ? "access code" : "code"}; ${MAX_AUTH_ATTEMPTS - signer.failedAttempts} attempts left`,
    );
  }

  async decline(token: string, reason: string, origin: RequestOrigin): Promise<SignerView> {
    const found = await this.openLink(token);
    const now = new Date().toISOString();
    const { contract } = await this.deps.store.update(found.contract.id, (current) =>
      decline(current, signerOf(current, found.signer.id), reason, now),
    );
    const signer = signerOf(contract, found.signer.id);
    await this.audit(contract, "declined", signer, origin, { reason });
    await this.announce(contract, "contract.signer.declined", signer, { reason });
    for (const email of this.everyone(contract)) {
      await this.notify(contract, email, {
        kind: "declined",
        contractTitle: contract.title,
        signerName: signer.name,
        reason,
      });
    }
    return signerView(contract, signer);
  }

  /**
   * Voids an open contract. `tenant` scopes the look-up (undefined: any tenant's, for an admin key);
   * the audit event names the key that voided it, which for an admin is not the contract's tenant.
   */
  async void(
    id: string,
    tenant: string | undefined,
    reason: string | undefined,
    by: ContractActor,
  ): Promise<ContractRecord> {
    await this.deps.store.require(id, tenant);
    const now = new Date().toISOString();
    const { contract, result: wasDraft } = await this.deps.store.update(id, (current) => {
      const draft = current.status === "draft";
      voidContract(current, reason, now);
      return draft;
    });
    await this.audit(contract, "voided", undefined, {}, { ...(reason && { reason }), by });
    await this.announce(contract, "contract.voided", undefined, reason ? { reason } : undefined);
    // The signers of a draft never heard of it.
    if (!wasDraft) await this.closingNotices(contract, "voided");
    return contract;
  }

  /** Delayed `expire` job: closes the contract if it is still open and due. */
  async expire(contractId: string): Promise<void> {
    const now = new Date().toISOString();
    const { contract, result } = await this.deps.store.update(contractId, (current) => ({
      wasDraft: current.status === "draft",
      expired: expireIfDue(current, now),
    }));
    if (!result.expired) return;
    await this.audit(contract, "expired");
    await this.announce(contract, "contract.expired");
    if (!result.wasDraft) await this.closingNotices(contract, "expired");
  }

  /** Delayed `remind` job: reminds the signers whose turn it is, and schedules the next reminder. */
  async remind(contractId: string, round: number): Promise<void> {
    const contract = await this.deps.store.get(contractId);
    if (!contract || isClosed(contract)) return;
    const due = contract.signers.filter((signer) => signer.status === "pending");
    if (due.length > 0) {
      await this.invite(contract, due, "reminder");
      await this.audit(contract, "reminded", undefined, {}, { signers: due.map((signer) => signer.id) });
    }
    await this.scheduleReminder(contract, round + 1);
  }

  /**
   * What follows the signatures recorded so far (worker, after every signature or seal step): the
   * signed events, the next signers' invitations, the seal job, the completion notices. Each is
   * marked on the record once done, so a step retried after its process died between recording a
   * signature and announcing it catches up, and nothing is announced twice (but a mail whose
   * sender died before marking it).
   */
  async followUp(contractId: string): Promise<void> {
    let contract = await this.deps.store.require(contractId);
    for (const signer of contract.signers) {
      if (signer.status !== "signed" || signer.signatureAnnounced) continue;
      await this.audit(
        contract,
        "signed",
        signer,
        { ip: signer.ip, userAgent: signer.userAgent },
        {
          digest: signer.signature?.digest,
          certificate: signer.signature?.certificateSubject,
          field: signer.signature?.fieldName,
        },
      );
      await this.announce(contract, "contract.signer.signed", signer);
      ({ contract } = await this.deps.store.update(contractId, (current) => {
        signerOf(current, signer.id).signatureAnnounced = true;
      }));
    }
    if (contract.status === "completed" && !contract.completionAnnounced) {
      await this.completed(contract);
      await this.deps.store.update(contractId, (current) => {
        current.completionAnnounced = true;
      });
      return;
    }
    if (isClosed(contract)) return;
    await this.invite(
      contract,
      contract.signers.filter((signer) => signer.status === "pending" && !signer.invitedAt),
      "invitation",
    );
    if (sealDue(contract)) await this.enqueue({ kind: "seal", contractId });
  }

  /** The contract is complete: audit, webhook, and the completed notice to everyone. */
  private async completed(contract: ContractRecord): Promise<void> {
    if (contract.sealed) {
      await this.audit(
        contract,
        "sealed",
        undefined,
        {},
        {
          digest: contract.sealed.digest,
          certificate: contract.sealed.certificateSubject,
          level: contract.sealLevel,
        },
      );
    }
    await this.audit(contract, "completed", undefined, {}, { sha256: contract.currentSha256 });
    await this.announce(contract, "contract.completed", undefined, { sha256: contract.currentSha256 });
    for (const signer of contract.signers) {
      await this.notify(contract, signer.email, {
        kind: "completed",
        contractTitle: contract.title,
        recipientName: signer.name,
        // The signer's document route still answers for a completed contract: the signed PDF.
        url: `${this.deps.publicUrl.replace(/\/+$/, "")}/v1/signing/${this.tokenOf(contract, signer)}/document`,
      });
    }
  }

  /** Adds a contract job (deterministic id) and waits for its outcome; the job's failure as an EsignError. */
  async runJob(job: ContractJob, timeoutMs: number, nonce?: string): Promise<unknown> {
    const added = await this.enqueue(job, {}, nonce);
    const id = added.id!;
    try {
      return await waitForJobOutcome(
        await this.queueEvents(),
        id,
        { timeoutMs, pollIntervalMs: JOB_POLL_MS },
        async () => {
          const state = await this.deps.queue.getJobState(id);
          if (state !== "completed" && state !== "failed") return undefined;
          // Read after the state: BullMQ records state and outcome together.
          const finished = await this.deps.queue.getJob(id);
          if (state === "failed") {
            const failure = parseFailureReason(finished?.failedReason ?? "E_INTERNAL: the job failed");
            throw new EsignError(isErrorCode(failure.code) ? failure.code : "E_INTERNAL", failure.message);
          }
          // A step with nothing to answer completes with undefined: null stands for "done".
          return (finished?.returnvalue as unknown) ?? null;
        },
      );
    } catch (error) {
      if (isEsignError(error) && error.code === "E_TIMEOUT") {
        throw new EsignError("E_TIMEOUT", "the signature is still being applied; ask again in a moment");
      }
      throw error;
    }
  }

  private async queueEvents(): Promise<QueueEvents> {
    if (!this.events) {
      this.events = new QueueEvents(this.deps.queue.name, {
        connection: this.deps.eventsConnection,
        prefix: this.deps.queue.opts.prefix,
      });
      this.events.on("error", (error) =>
        this.deps.logger.warn({ err: error }, "contract queue events connection error"),
      );
    }
    await this.events.waitUntilReady();
    return this.events;
  }

  async enqueue(job: ContractJob, options: { delay?: number } = {}, nonce?: string) {
    return this.deps.queue.add(job.kind, job, {
      jobId: contractJobId(job, nonce),
      attempts: job.kind === "challenge" ? 1 : 8,
      backoff: { type: "exponential", delay: 1000, jitter: 0.5 },
      ...JOB_RETENTION,
      ...options,
    });
  }

  private async scheduleReminder(contract: ContractRecord, round: number): Promise<void> {
    if (this.deps.remindAfterMs <= 0) return;
    await this.enqueue(
      { kind: "remind", contractId: contract.id },
      { delay: this.deps.remindAfterMs },
      String(round),
    );
  }

  async close(): Promise<void> {
    await this.events?.close();
  }

  /** Invitations are marked on the signer once delivered; reminders are not marked. */
  private async invite(contract: ContractRecord, signers: SignerRecord[], kind: "invitation" | "reminder") {
    for (const signer of signers) {
      const delivered = await this.notify(contract, signer.email, {
        kind,
        contractTitle: contract.title,
        signerName: signer.name,
        senderName: this.deps.senderName,
        url: this.linkOf(contract, signer),
        ...(contract.expiresAt && { expiresAt: contract.expiresAt }),
      });
      if (kind === "reminder") continue;
      await this.audit(contract, "sent", signer, {}, { to: signer.email, delivered });
      if (!delivered) continue;
      const at = new Date().toISOString();
      await this.deps.store.update(contract.id, (current) => {
        signerOf(current, signer.id).invitedAt ??= at;
      });
    }
  }

  private everyone(contract: ContractRecord): string[] {
    return [
      ...new Set([
        ...contract.signers.map((signer) => signer.email),
        ...(contract.owner ? [contract.owner.email] : []),
      ]),
    ];
  }

  private async closingNotices(contract: ContractRecord, kind: "voided" | "expired"): Promise<void> {
    for (const signer of contract.signers) {
      await this.notify(contract, signer.email, {
        kind,
        contractTitle: contract.title,
        recipientName: signer.name,
      });
    }
  }

  /**
   * A notice that fails to go out is logged (and answered false): the transition it reports has
   * happened regardless.
   */
  private async notify(contract: ContractRecord, to: string, notice: Notice): Promise<boolean> {
    try {
      await this.deps.mailer.send({ to, ...renderNotice(notice, contract.language) });
      return true;
    } catch (error) {
      this.deps.logger.warn({ err: error, kind: notice.kind }, "cannot send a contract notice");
      return false;
    }
  }

  async audit(
    contract: ContractRecord,
    type: AuditEventType,
    signer?: SignerRecord,
    origin: RequestOrigin = {},
    details?: Record<string, unknown>,
  ): Promise<void> {
    await this.deps.audit.append(contract.id, {
      type,
      ...(signer && { signerId: signer.id }),
      ...(origin.ip && { ip: origin.ip }),
      ...(origin.userAgent && { userAgent: origin.userAgent }),
      ...(details && { details }),
    });
  }

  private async announce(
    contract: ContractRecord,
    type: ContractEventType,
    signer?: SignerRecord,
    extra?: Record<string, unknown>,
  ): Promise<void> {
    if (!contract.callback) return;
    const event: ContractEvent = {
      type,
      timestamp: new Date().toISOString(),
      data: {
        contractId: contract.id,
        tenant: contract.tenant,
        status: contract.status,
        title: contract.title,
        ...(signer && { signerId: signer.id, signerName: signer.name, signerEmail: signer.email }),
        ...extra,
      },
    };
    await enqueueDelivery(this.deps.webhooks, webhookDelivery(event, contract.callback));
  }
}

/** The OTP belongs to one signer of one contract. */
function otpSubject(contract: ContractRecord, signer: SignerRecord): string {
  return `${contract.id}:${signer.id}`;
}

function maskAddress(address: string): string {
  const at = address.indexOf("@");
  if (at > 0) return `${address[0]}***${address.slice(at)}`;
  return `***${address.slice(-3)}`;
}

export function signerView(contract: ContractRecord, signer: SignerRecord): SignerView {
  return {
    contractId: contract.id,
    title: contract.title,
    status: contract.status,
    signer: {
      id: signer.id,
      name: signer.name,
      email: signer.email,
      status: signer.status,
      order: signer.order,
    },
    auth: { method: signer.method },
    yourTurn: !isClosed(contract) && (signer.status === "pending" || signer.status === "signing"),
    attemptsLeft: Math.max(0, MAX_AUTH_ATTEMPTS - signer.failedAttempts),
    placement: signaturePlacement(contract, signer),
    ...(contract.language && { language: contract.language }),
  };
}

export const newContractId = () => `ctr_${randomUUID().replaceAll("-", "")}`;
