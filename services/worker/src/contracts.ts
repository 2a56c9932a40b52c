import { setTimeout } from "node:timers/promises";
import {
  type ContractRecord,
  type ContractService,
  type ContractStore,
  isClosed,
  recordSeal,
  recordSignature,
  type SignerRecord,
  type SignJobOutcome,
  signaturePlacement,
  signerOf,
  versionRef,
} from "@esign/contracts";
import { EsignError, isEsignError } from "@esign/errors";
import {
  CONTRACTS_QUEUE,
  type ContractJob,
  ContractJobSchema,
  parseSignJob,
  type SignResult,
} from "@esign/jobs";
import { type Job, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { asEsignError, toQueueError } from "./failures";
import { type SignDocumentDeps, signDocument } from "./sign-document";
import type { SignerEntry } from "./signer-profiles";

export interface ContractWorkerOptions {
  redis: Redis;
  prefix: string;
  concurrency: number;
  /** BullMQ lock and stalled-job recovery, as the signing queues have them. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  service: ContractService;
  store: ContractStore;
  /** The signing worker's dependencies: the same pipeline, checkpoints and exactly-once signer. */
  signing: SignDocumentDeps;
  logger: Logger;
}

/** How long one contract's signature waits for another's (parallel signers sign one after another). */
const TURN_WAIT_MS = 120_000;
const TURN_LEASE_MS = 30_000;
const TURN_POLL_MS = 250;

const APPROVAL_TEXT = "Signed by {name}\n{date}";

const METHOD_LABEL: Record<SignerRecord["method"], string> = {
  "esign-api": "own signing-service credential (PIN and OTP)",
  "email-otp": "e-mail one-time password",
  "sms-otp": "SMS one-time password",
  "access-code": "access code",
};

/**
 * The `esign-contracts` queue: each signer's approval signature, the seal after the last one, the
 * signing service's OTP, expiry and reminders. Signatures are one signing job each through the
 * worker's own `signDocument` (same checkpoints, same exactly-once signer), keyed per contract and
 * step so a retried or repeated job never pays twice.
 */
export function startContractWorker(options: ContractWorkerOptions): Worker {
  const { service, store, logger } = options;

  const process = async (job: Job): Promise<unknown> => {
    const step = ContractJobSchema.parse(job.data);
    try {
      switch (step.kind) {
        case "challenge":
          return await challenge(step.contractId, step.signerId);
        case "expire":
          return await service.expire(step.contractId);
        case "remind":
          return await service.remind(step.contractId, Number(job.id?.split(".").pop() ?? 1));
        case "sign":
          return await withTurn(step.contractId, () => sign(step, job));
        case "seal":
          return await withTurn(step.contractId, () => seal(step.contractId, job));
      }
    } catch (thrown) {
      const error = asEsignError(thrown);
      const final = error.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      logger[final ? "error" : "warn"](
        { jobId: job.id, code: error.code, attempt: job.attemptsMade + 1, err: error },
        final ? "contract step failed" : "contract step failed; will retry",
      );
      if (final && step.kind === "sign") await releaseSigner(step.contractId, step.signerId, step.attempt);
      throw toQueueError(error);
    }
  };

  /** A signature attempt that failed for good: the signer may try again (a new attempt, a new job). */
  async function releaseSigner(contractId: string, signerId: string, attempt: number): Promise<void> {
    await store
      .update(contractId, (contract) => {
        const signer = signerOf(contract, signerId);
        if (signer.status === "signing" && signer.signAttempt === attempt) signer.status = "pending";
      })
      .catch((error: unknown) => logger.error({ err: error, contractId }, "cannot release the signer"));
  }

  async function challenge(contractId: string, signerId: string): Promise<void> {
    const contract = await store.require(contractId);
    const signer = signerOf(contract, signerId);
    const personal = options.signing.signers.get(contract.sealProfile).personal;
    if (!personal || !signer.credentialId) {
      throw new EsignError(
        "E_CONFIG",
        `signer profile ${contract.sealProfile} cannot reach personal credentials`,
      );
    }
    await personal.sendOtp(signer.credentialId);
  }

  /** One signature at a time per contract: each one is an incremental update of the previous version. */
  async function withTurn<T>(contractId: string, run: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + TURN_WAIT_MS;
    for (;;) {
      const lease = await options.signing.checkpoints.claimSignCall(
        CONTRACTS_QUEUE,
        contractId,
        "turn",
        TURN_LEASE_MS,
      );
      if (lease) {
        try {
          return await run();
        } finally {
          await lease.release().catch(() => undefined);
        }
      }
      if (Date.now() > deadline)
        throw new EsignError("E_UNAVAILABLE", `contract ${contractId} is busy; will retry`);
      await setTimeout(TURN_POLL_MS);
    }
  }

  async function signStep(
    contract: ContractRecord,
    stepId: string,
    entry: SignerEntry,
    request: {
      level: "B-B" | "B-T" | "B-LT" | "B-LTA";
      field: Record<string, string>;
      rect?: [number, number, number, number];
      /** The signer's drawn or typed signature, shown in the visible signature. */
      image?: Uint8Array;
    },
    job: Job,
  ): Promise<SignResult> {
    const signJob = parseSignJob({
      input: contract.current,
      output: versionRef(contract, contract.revisions + 1),
      signer: entry.profile,
      level: request.level,
      field: request.field,
      // The reason is long (who, how authenticated): the box shows the name and the time.
      ...(request.rect && { appearance: { rect: request.rect, text: APPROVAL_TEXT } }),
      tenant: contract.tenant,
    });
    const deps: SignDocumentDeps = {
      ...options.signing,
      // The step's one signer, whatever profile name the job carries.
      signers: { get: () => entry, find: () => entry, entries: () => [entry], close: async () => undefined },
      appearanceImage: request.image,
    };
    return signDocument(
      signJob,
      { queue: CONTRACTS_QUEUE, jobId: `${contract.id}.${stepId}`, attempt: job.attemptsMade + 1 },
      deps,
    );
  }

  async function sign(step: Extract<ContractJob, { kind: "sign" }>, job: Job): Promise<SignJobOutcome> {
    const contract = await store.require(step.contractId);
    const signer = signerOf(contract, step.signerId);
    if (signer.status === "signed") {
      // A retry of a step whose process died after recording the signature: catch up on what follows.
      await service.followUp(contract.id);
      return { outcome: "signed" };
    }
    if (isClosed(contract)) {
      // Voided or expired while the signer was authenticating: nothing more goes into the document.
      return { outcome: "refused", message: `the contract is ${contract.status}`, locked: false };
    }
    if (signer.status !== "signing" || signer.signAttempt !== step.attempt) {
      return { outcome: "refused", message: "this signature attempt is over; sign again", locked: false };
    }
    const sealEntry = options.signing.signers.get(contract.sealProfile);
    // The last page (no `page`), where the signer page highlights it.
    const { rect } = signaturePlacement(contract, signer);
    const image =
      signer.signatureImage &&
      (await options.signing.stores.resolve(signer.signatureImage).store.read(signer.signatureImage.key));
    const field = {
      name: `Signer_${signer.id}`,
      signerName: signer.name,
      reason: `Signed "${contract.title}" by ${signer.name} <${signer.email}>, authenticated by ${METHOD_LABEL[signer.method]}`,
      contactInfo: signer.email,
    };
    const level = sealEntry.documentTimestamper ? "B-T" : "B-B";
    let result: SignResult;
    if (signer.method === "esign-api") {
      const handoff = await store.takeHandoff(service.deps.secrets, contract.id, signer.id, step.attempt);
      const personal = sealEntry.personal;
      if (!personal || !signer.credentialId) {
        throw new EsignError(
          "E_CONFIG",
          `signer profile ${contract.sealProfile} cannot reach personal credentials`,
        );
      }
      const own = personal.signer(signer.credentialId, { pin: handoff?.pin ?? "", otp: handoff?.otp ?? "" });
      const entry: SignerEntry = {
        ...sealEntry,
        profile: `${contract.sealProfile}.${signer.credentialId}`,
        signer: own,
        contentsSize: undefined,
        describe: () => own.describe(),
        seals: new Map(),
        personal: undefined,
      };
      try {
        result = await signStep(contract, signer.id, entry, { level, field, rect, image }, job);
      } catch (error) {
        if (
          isEsignError(error) &&
          (error.code === "E_SIGNER_AUTH" || (!handoff && error.code === "E_CONFIG"))
        ) {
          // Nothing was signed: the next attempt prepares afresh (its own time and signature image).
          await options.signing.checkpoints.clear(CONTRACTS_QUEUE, `${contract.id}.${signer.id}`);
          return refused(contract.id, signer, handoff === undefined, error);
        }
        throw error;
      } finally {
        await own.close?.();
      }
    } else {
      result = await signStep(contract, signer.id, sealEntry, { level, field, rect, image }, job);
    }
    const now = new Date().toISOString();
    await store.update(contract.id, (current) => {
      const target = signerOf(current, signer.id);
      // Closed meanwhile (voided, expired): the signed version stays unused.
      if (target.status === "signed" || isClosed(current)) return;
      recordSignature(
        current,
        target,
        {
          signedAt: result.signingTime,
          digest: result.signatureId,
          certificateSubject: result.signerSubject,
          fieldName: result.fieldName,
          ...(target.ip && { ip: target.ip }),
          ...(target.userAgent && { userAgent: target.userAgent }),
        },
        { ref: result.output, sha256: result.sha256 },
        now,
      );
    });
    await options.signing.checkpoints.clear(CONTRACTS_QUEUE, `${contract.id}.${signer.id}`);
    await service.followUp(contract.id);
    return { outcome: "signed" };
  }

  async function refused(
    contractId: string,
    signer: SignerRecord,
    expired: boolean,
    error: EsignError,
  ): Promise<SignJobOutcome> {
    if (expired) {
      await releaseSigner(contractId, signer.id, signer.signAttempt);
      return {
        outcome: "refused",
        message: "the authorisation expired; enter PIN and OTP again",
        locked: false,
      };
    }
    try {
      await service.failedAttempt(
        contractId,
        signer.id,
        { ip: signer.ip, userAgent: signer.userAgent },
        "esign-api",
        true,
      );
    } catch (counted) {
      const code = isEsignError(counted) ? counted.code : "E_AUTH_FAILED";
      return {
        outcome: "refused",
        message: `the signing service refused the PIN or OTP (${error.message}); request a new OTP`,
        locked: code === "E_LOCKED",
      };
    }
    return { outcome: "refused", message: error.message, locked: false };
  }

  async function seal(contractId: string, job: Job): Promise<void> {
    const contract = await store.require(contractId);
    if (contract.sealed || !contract.sealLevel || isClosed(contract)) {
      // Sealed by an earlier run of this step, which may have died before announcing it.
      await service.followUp(contractId);
      return;
    }
    const entry = options.signing.signers.get(contract.sealProfile);
    const result = await signStep(
      contract,
      "seal",
      entry,
      {
        level: contract.sealLevel,
        field: { name: "Seal", reason: `Organisation seal over "${contract.title}", all signers signed` },
      },
      job,
    );
    const now = new Date().toISOString();
    await store.update(contractId, (current) => {
      if (current.sealed || isClosed(current)) return;
      recordSeal(
        current,
        {
          signedAt: result.signingTime,
          digest: result.signatureId,
          certificateSubject: result.signerSubject,
        },
        { ref: result.output, sha256: result.sha256 },
        now,
      );
    });
    await options.signing.checkpoints.clear(CONTRACTS_QUEUE, `${contractId}.seal`);
    await service.followUp(contractId);
  }

  const worker = new Worker(CONTRACTS_QUEUE, process, {
    connection: options.redis,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockDurationMs,
    stalledInterval: options.stalledIntervalMs,
    maxStalledCount: options.maxStalledCount,
  });
  worker.on("error", (error) => logger.error({ err: error }, "contract worker error"));
  return worker;
}
