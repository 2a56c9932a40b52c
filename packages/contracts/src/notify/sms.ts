import { EsignError } from "@esign/errors";
import { httpCall } from "@esign/pades";
import { loggableUrl } from "@esign/runtime";

export interface SmsSender {
  send(to: string, text: string): Promise<void>;
}

export interface SmsSenderOptions {
  /** SMS_WEBHOOK_URL: a gateway that takes `POST {"to", "text"}` as JSON. */
  webhookUrl?: string;
  /** Bound on the whole exchange; default 10 s. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * SMS through a generic HTTP gateway. Without SMS_WEBHOOK_URL every send is refused with a permanent
 * E_CONFIG: `sms-otp` signers cannot be served, and retrying will not change that.
 */
export function createSmsSender(options: SmsSenderOptions = {}): SmsSender {
  const { webhookUrl, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  if (!webhookUrl) {
    return {
      async send() {
        throw new EsignError("E_CONFIG", "SMS is not configured (SMS_WEBHOOK_URL): sms-otp cannot be used");
      },
    };
  }
  const { endpoint, authorization } = splitCredentials(webhookUrl);
  const gateway = loggableUrl(webhookUrl);
  return {
    async send(to, text) {
      const answer = await httpCall(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization && { authorization }) },
        body: JSON.stringify({ to, text }),
        timeoutMs,
        unavailableCode: "E_NOTIFY_FAILED",
        service: "SMS gateway",
      }).catch((cause: EsignError) => {
        // httpCall names the URL, whose query may carry the gateway's token.
        throw new EsignError("E_NOTIFY_FAILED", cause.message.split(endpoint).join(gateway), {
          permanent: false,
        });
      });
      if (answer.status < 200 || answer.status > 299) {
        // A 4xx is the gateway refusing this message (bad number, bad request): permanent, except
        // 408/429, which are about timing.
        const permanent = answer.status >= 400 && answer.status < 500 && ![408, 429].includes(answer.status);
        throw new EsignError("E_NOTIFY_FAILED", `SMS gateway ${gateway} answered HTTP ${answer.status}`, {
          permanent,
        });
      }
    },
  };
}

/**
 * fetch refuses URLs with credentials: `https://user:pass@gateway/…` becomes the URL without them
 * and a Basic Authorization header.
 */
function splitCredentials(webhookUrl: string): { endpoint: string; authorization?: string } {
  let url: URL;
  try {
    url = new URL(webhookUrl);
  } catch {
    throw new EsignError("E_CONFIG", "SMS_WEBHOOK_URL is not a valid URL");
  }
  if (url.username === "" && url.password === "") return { endpoint: webhookUrl };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = "";
  url.password = "";
  return { endpoint: url.toString(), authorization: `Basic ${Buffer.from(credentials).toString("base64")}` };
}
