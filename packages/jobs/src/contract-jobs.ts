import { z } from "zod";

/** Contract steps run by the worker (services/worker `contracts/`), produced by the gateway. */
export const CONTRACTS_QUEUE = "esign-contracts";

/**
 * One step of an e-contract. Each carries ids only: PINs, OTPs and codes never travel in a job
 * (an `esign-api` signer's PIN and OTP are handed over through an encrypted short-lived Redis key).
 * - `sign`: apply signer `signerId`'s approval signature (attempt `attempt` of that signer);
 * - `seal`: the organisation seal after the last signer;
 * - `challenge`: ask the signing service to send an `esign-api` signer's OTP;
 * - `expire`, `remind`: the delayed jobs of a contract's expiry and reminders.
 */
export const ContractJobSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("sign"),
    contractId: z.string().min(1),
    signerId: z.string().min(1),
    attempt: z.int().min(1),
  }),
  z.object({ kind: z.literal("seal"), contractId: z.string().min(1) }),
  z.object({ kind: z.literal("challenge"), contractId: z.string().min(1), signerId: z.string().min(1) }),
  z.object({ kind: z.literal("expire"), contractId: z.string().min(1) }),
  z.object({ kind: z.literal("remind"), contractId: z.string().min(1) }),
]);
export type ContractJob = z.infer<typeof ContractJobSchema>;

/**
 * BullMQ job id of a step: the same step asked twice (a double click, a retried request, a
 * restarted process re-enqueuing) is one job. `challenge` jobs are asked for again on purpose
 * (a new OTP), so the caller adds a nonce.
 */
export function contractJobId(job: ContractJob, nonce?: string): string {
  switch (job.kind) {
    case "sign":
      return `sign.${job.contractId}.${job.signerId}.${job.attempt}`;
    case "challenge":
      return `challenge.${job.contractId}.${job.signerId}.${nonce ?? "0"}`;
    case "remind":
      return `remind.${job.contractId}.${nonce ?? "0"}`;
    default:
      return `${job.kind}.${job.contractId}`;
  }
}

export const CONTRACT_EVENT_TYPES = [
  "contract.sent",
  "contract.signer.signed",
  "contract.signer.declined",
  "contract.completed",
  "contract.expired",
  "contract.voided",
] as const;
export type ContractEventType = (typeof CONTRACT_EVENT_TYPES)[number];

/** A contract's Standard Webhooks event; `data.signerId` for the signer events. */
export interface ContractEvent {
  type: ContractEventType;
  timestamp: string;
  data: {
    contractId: string;
    tenant: string;
    status: string;
    title: string;
    signerId?: string;
    [field: string]: unknown;
  };
}
