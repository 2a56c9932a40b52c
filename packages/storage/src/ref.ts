import { z } from "zod";
import { keyProblem } from "./keys";

/** Store names appear in configuration, job payloads and logs: keep them boring. */
export const StoreNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "store name: 1-64 letters, digits, '_', '.', '-'");

export const ObjectKeySchema = z.string().superRefine((key, ctx) => {
  const problem = keyProblem(key);
  if (problem) ctx.addIssue({ code: "custom", message: problem.message });
});

/** Where an object lives: a configured store's name and a key inside it. */
export const ObjectRefSchema = z.strictObject({
  store: StoreNameSchema,
  key: ObjectKeySchema,
});

export type ObjectRef = z.infer<typeof ObjectRefSchema>;

export function formatRef(ref: ObjectRef): string {
  return `${ref.store}:${ref.key}`;
}

export function sameRef(a: ObjectRef, b: ObjectRef): boolean {
  return a.store === b.store && a.key === b.key;
}
