import { EsignError } from "@esign/errors";
import type { z } from "zod";
import { type SignJob, SignJobSchema } from "./schemas";

/** An E_INVALID_JOB that carries zod's issues, so the API can return them field by field. */
export class InvalidJobError extends EsignError {
  constructor(
    message: string,
    readonly issues: z.core.$ZodIssue[],
  ) {
    super("E_INVALID_JOB", message);
  }
}

/** Parses a producer's job into a complete v1 SignJob, or throws InvalidJobError. */
export function parseSignJob(job: unknown): SignJob {
  const parsed = SignJobSchema.safeParse(job);
  if (parsed.success) return parsed.data;
  const summary = parsed.error.issues
    .map((issue) => `${issue.path.join(".") || "(job)"}: ${issue.message}`)
    .join("; ");
  throw new InvalidJobError(`invalid signing job: ${summary}`, parsed.error.issues);
}
