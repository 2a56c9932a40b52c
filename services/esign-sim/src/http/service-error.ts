/**
 * An error answered on the wire in the CSC/OAuth 2.0 shape `{ error, error_description }`.
 * It stays inside the simulator: callers see it only as an HTTP answer.
 */
export class ServiceError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
    this.name = "ServiceError";
  }
}

export const invalidRequest = (description: string) => new ServiceError(400, "invalid_request", description);

export const missingParameter = (type: string, name: string) =>
  invalidRequest(`Missing (or invalid type) ${type} parameter ${name}`);

export const invalidParameter = (name: string) => invalidRequest(`Invalid parameter ${name}`);
