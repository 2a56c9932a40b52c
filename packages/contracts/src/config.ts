import { decimal, text } from "@esign/runtime";
import { z } from "zod";

/**
 * E-contract settings the gateway and the worker share (both run contract transitions and send
 * notices), as configuration fields to spread into each service's schema.
 */
export const CONTRACT_FIELDS = {
  /**
   * ESIGN_CONTRACT_SECRET: keys the OTP hashes and the encrypted PIN/OTP hand-over to the worker;
   * the same value for every gateway and worker. Unset: e-contracts are off.
   */
  contractSecret: z.string().min(32, "must be at least 32 characters").optional(),
  /** ESIGN_PUBLIC_URL: where signers reach the gateway; signer links are `<url>/s/<token>`. */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** SMTP_URL (`smtp://`, `smtps://user:pass@host`); unset: the dev outbox in Redis (`GET /dev/mail`). */
  smtpUrl: z.string().min(1).optional(),
  /** MAIL_FROM; default `esign-agent <no-reply@esign-agent.invalid>`. */
  mailFrom: z.string().min(3).optional(),
  /** SMS_WEBHOOK_URL: a gateway taking `POST {"to", "text"}`; unset: sms-otp signers cannot be served. */
  smsWebhookUrl: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * CONTRACT_REMIND_AFTER_HOURS: reminders to signers whose turn it is, every so many hours after
   * the invitation; fractions allowed (`0.5`; tests use seconds' worth); 0 sends none; default 72.
   */
  contractRemindAfterHours: z.number().min(0).optional(),
  /** ESIGN_CONTRACT_STORE: the store holding every contract's folder (versions, audit trail); default `default`. */
  contractStore: z.string().min(1).optional(),
  /** CONTRACT_SENDER_NAME: who invitations say the contract is from; default `esign-agent`. */
  contractSenderName: z.string().min(1).optional(),
};

export const CONTRACT_BINDINGS = {
  contractSecret: text("ESIGN_CONTRACT_SECRET"),
  publicUrl: text("ESIGN_PUBLIC_URL"),
  smtpUrl: text("SMTP_URL"),
  mailFrom: text("MAIL_FROM"),
  smsWebhookUrl: text("SMS_WEBHOOK_URL"),
  contractRemindAfterHours: decimal("CONTRACT_REMIND_AFTER_HOURS"),
  contractStore: text("ESIGN_CONTRACT_STORE"),
  contractSenderName: text("CONTRACT_SENDER_NAME"),
};

const ContractSettingsSchema = z.object(CONTRACT_FIELDS);
export type ContractSettings = z.output<typeof ContractSettingsSchema>;
