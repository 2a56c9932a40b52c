import { EsignError } from "@esign/errors";
import { z } from "zod";
import { DEFAULT_TIMEOUT_MS, type JsonAnswer, joinUrl, postJson, postJsonAnswer } from "./remote-http";

export interface CscClientOptions {
  /** The CSC base URL, e.g. https://signing.example/csc/v2. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Per request. Default 30 s. */
  timeoutMs?: number;
}

const tokenSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().positive().default(3600),
});

/** Access tokens are renewed this long before they expire, so none runs out mid-call. */
const TOKEN_SAFETY_MS = 30_000;

/** CSC API v2 over HTTP: OAuth 2.0 client credentials, one cached bearer token, JSON calls. */
export class CscClient {
  private token: { value: string; expiresAt: number } | undefined;

  constructor(private readonly options: CscClientOptions) {
    if (!options.url || !options.clientId || !options.clientSecret) {
      throw new EsignError("E_CONFIG", "the CSC signer needs a URL, a client id and a client secret");
    }
  }

  /** Calls `method` (e.g. "credentials/info"); an expired token (401) is renewed once. */
  async call<T extends z.ZodType>(method: string, body: unknown, schema: T): Promise<z.output<T>> {
    return (await this.callOnce(method, body, schema, undefined)).body;
  }

  /**
   * `call` with an Idempotency-Key (when given): a service that honours it answers a repeated call
   * with the first answer, marked replayed, instead of doing (and billing) the work again.
   */
  async callOnce<T extends z.ZodType>(
    method: string,
    body: unknown,
    schema: T,
    idempotencyKey: string | undefined,
  ): Promise<JsonAnswer<z.output<T>>> {
    const fresh = !this.token || this.token.expiresAt <= Date.now();
    try {
      return await this.send(method, body, schema, await this.accessToken(), idempotencyKey);
    } catch (error) {
      if (fresh || !(error instanceof EsignError) || error.code !== "E_SIGNER_AUTH") throw error;
      this.token = undefined;
      return this.send(method, body, schema, await this.accessToken(), idempotencyKey);
    }
  }

  private send<T extends z.ZodType>(
    method: string,
    body: unknown,
    schema: T,
    token: string,
    idempotencyKey: string | undefined,
  ) {
    return postJsonAnswer(
      {
        url: joinUrl(this.options.url, method),
        body,
        headers: { authorization: `Bearer ${token}` },
        timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        service: `CSC ${method}`,
        idempotencyKey,
      },
      schema,
    );
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt > Date.now()) return this.token.value;
    const answer = await postJson(
      {
        url: joinUrl(this.options.url, "oauth2/token"),
        body: {
          grant_type: "client_credentials",
          client_id: this.options.clientId,
          client_secret: this.options.clientSecret,
        },
        timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        service: "CSC oauth2/token",
      },
      tokenSchema,
    );
    this.token = {
      value: answer.access_token,
      expiresAt: Date.now() + answer.expires_in * 1000 - TOKEN_SAFETY_MS,
    };
    return answer.access_token;
  }
}
