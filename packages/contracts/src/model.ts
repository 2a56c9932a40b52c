import { CallbackSchema } from "@esign/jobs";
import type { ObjectRef } from "@esign/storage";
import { z } from "zod";

/** How a signer proves who they are before their signature is applied. */
export const SignerAuthSchema = z.discriminatedUnion("method", [
  /** The signer's own credential at the signing service: PIN + the service's OTP (CSC explicit authorisation). */
  z.strictObject({ method: z.literal("esign-api"), credentialId: z.string().min(1).max(200) }),
  /** A 6-digit code we send by e-mail; signed with the contract's seal profile. */
  z.strictObject({ method: z.literal("email-otp") }),
  /** A 6-digit code we send by SMS; signed with the contract's seal profile. */
  z.strictObject({ method: z.literal("sms-otp") }),
  /** A code the sender hands over out of band; hashed at rest. */
  z.strictObject({ method: z.literal("access-code"), code: z.string().min(4).max(200) }),
]);
export type SignerAuth = z.infer<typeof SignerAuthSchema>;
export type AuthMethod = SignerAuth["method"];

export const SignerInputSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    email: z.email().max(320),
    phone: z
      .string()
      .regex(/^\+?[0-9 ()-]{5,32}$/, "phone: digits, spaces, '+', '(', ')', '-'")
      .optional(),
    /** Signing order: 1 first; signers with the same number sign in parallel. */
    order: z.int().min(1).max(100).default(1),
    auth: SignerAuthSchema,
  })
  .refine((signer) => signer.auth.method !== "sms-otp" || signer.phone !== undefined, {
    message: "an sms-otp signer needs a phone number",
    path: ["phone"],
  });

export const SEAL_LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"] as const;

/** The `contract` field of `POST /v1/contracts`. */
export const CreateContractSchema = z.strictObject({
  title: z.string().trim().min(1).max(300),
  signers: z.array(SignerInputSchema).min(1).max(50),
  /** The organisation seal after the last signer; its profile also signs for OTP and access-code signers. */
  seal: z
    .strictObject({ signer: z.string().min(1).optional(), level: z.enum(SEAL_LEVELS).default("B-LTA") })
    .optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  callback: CallbackSchema.optional(),
  /**
   * Language of the notices (mails, SMS; English when not named) and the signer page's first
   * language (the reader's Accept-Language when not named).
   */
  language: z.enum(["en", "zh-CN"]).optional(),
  /** Who is told when a signer is locked or declines, and gets the completed document. */
  owner: z.strictObject({ name: z.string().max(200).optional(), email: z.email() }).optional(),
  /** false: a `draft`, sent later by `POST /v1/contracts/:id/send` (no invitations, links not usable yet). */
  send: z.boolean().default(true),
});
export type CreateContractInput = z.input<typeof CreateContractSchema>;
export type CreateContract = z.output<typeof CreateContractSchema>;

export const CONTRACT_STATUSES = [
  "draft",
  "in_progress",
  "completed",
  "declined",
  "voided",
  "expired",
] as const;
export type ContractStatus = (typeof CONTRACT_STATUSES)[number];
export const CLOSED_STATUSES: readonly ContractStatus[] = ["completed", "declined", "voided", "expired"];

/**
 * - `waiting`: an earlier order number has not finished;
 * - `pending`: their turn;
 * - `signing`: authenticated, the signature job runs (attempt `signAttempt`);
 * - `signed`, `declined`: done; `locked`: too many failed attempts.
 */
export const SIGNER_STATUSES = ["waiting", "pending", "signing", "signed", "declined", "locked"] as const;
export type SignerStatus = (typeof SIGNER_STATUSES)[number];

/** What the evidence records of a signature. */
export interface SignatureEvidence {
  signedAt: string;
  /** Hex digest of the signed byte range. */
  digest: string;
  certificateSubject: string;
  fieldName: string;
  ip?: string;
  userAgent?: string;
}

export interface SignerRecord {
  id: string;
  name: string;
  email: string;
  phone?: string;
  order: number;
  method: AuthMethod;
  credentialId?: string;
  status: SignerStatus;
  /** SHA-256 of the signer's link token (how a link finds its signer). */
  tokenHash: string;
  /** The token encrypted under the contract secret: invitations and reminders after creation need the link. */
  tokenBox: string;
  /** scrypt hash of the access code (`access-code` signers). */
  accessCodeHash?: string;
  /** Failed OTP, code or PIN attempts; locked at MAX_AUTH_ATTEMPTS. */
  failedAttempts: number;
  /** Number of the current signature job of this signer (a new one after a refused PIN/OTP). */
  signAttempt: number;
  /** When their invitation went out (an undelivered one is sent again by the next follow-up). */
  invitedAt?: string;
  /** The signature's audit event and webhook are out. */
  signatureAnnounced?: boolean;
  /** When the signer first opened their link. */
  viewedAt?: string;
  /** IP and user agent of the request that authenticated the signature. */
  ip?: string;
  userAgent?: string;
  signature?: SignatureEvidence;
  /** The drawn or typed signature (PNG) the current attempt shows in its visible signature. */
  signatureImage?: ObjectRef;
  declineReason?: string;
}

export interface ContractRecord {
  id: string;
  tenant: string;
  title: string;
  status: ContractStatus;
  createdAt: string;
  updatedAt: string;
  closedAt?: string;
  expiresAt?: string;
  /** The PDF as uploaded. */
  original: ObjectRef;
  originalSha256: string;
  /** The PDF as it stands: the original, then each signature's incremental update. */
  current: ObjectRef;
  currentSha256: string;
  /** Signatures applied so far (approval signatures and seal); names the next version. */
  revisions: number;
  /** Signer profile for the seal and for OTP / access-code signers. */
  sealProfile: string;
  /** Level of the organisation seal after the last signer; none without `seal`. */
  sealLevel?: (typeof SEAL_LEVELS)[number];
  sealed?: { signedAt: string; digest: string; certificateSubject: string };
  callback?: z.infer<typeof CallbackSchema>;
  owner?: { name?: string; email: string };
  language?: "en" | "zh-CN";
  /** The completion's audit events, webhook and notices are out. */
  completionAnnounced?: boolean;
  signers: SignerRecord[];
  voidReason?: string;
}
