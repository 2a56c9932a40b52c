import type { SimulatorContext } from "../context";
import type { CredentialDefinition } from "../credentials";
import type { Body } from "../http/params";
import { invalidParameter, missingParameter, ServiceError } from "../http/service-error";
import { constantTimeEqual } from "../secrets";

/** The values of authData ([{ id, value }]) by id. */
function authData(body: Body): Map<string, string> {
  const items = body.authData ?? [];
  if (!Array.isArray(items)) throw missingParameter("array", "authData");
  const values = new Map<string, string>();
  for (const item of items as { id?: unknown; value?: unknown }[]) {
    if (typeof item?.id !== "string" || typeof item.value !== "string") throw invalidParameter("authData");
    values.set(item.id, item.value);
  }
  return values;
}

/** Checks the PIN and OTP an explicit credential asks for; a correct OTP is used up. */
export function checkExplicitAuthorisation(
  context: SimulatorContext,
  credential: CredentialDefinition,
  body: Body,
): void {
  const values = authData(body);
  if (credential.pin !== undefined) {
    const pin = values.get("PIN");
    if (pin === undefined) throw missingParameter("string", "PIN");
    if (!constantTimeEqual(pin, credential.pin))
      throw new ServiceError(400, "invalid_pin", "The PIN is invalid");
  }
  if (credential.otp) {
    const otp = values.get("OTP");
    if (otp === undefined) throw missingParameter("string", "OTP");
    if (!context.otps.consume(credential.id, otp))
      throw new ServiceError(400, "invalid_otp", "The OTP is invalid");
  }
}
