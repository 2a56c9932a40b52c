import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { EsignError } from "@esign/errors";
import { type Deadline, timedOut } from "./deadline";
import type { Destination } from "./ssrf";

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
}

// The answer body is not used; reading a little keeps well-behaved servers happy, the cap keeps
// a hostile one from streaming to us until the timeout.
const MAX_DRAINED_BODY_BYTES = 64 * 1024;

/**
 * POSTs `body` to a checked destination, connecting only to its checked addresses (the custom
 * `lookup` pins them; the host name still drives the Host header and TLS verification). Redirects
 * are not followed: a 3xx is just an answer. The deadline bounds the whole exchange.
 */
export function postToDestination(
  destination: Destination,
  headers: Record<string, string>,
  body: string,
  deadline: Deadline,
): Promise<HttpAnswer> {
  const { url, hostname, port, addresses } = destination;
  const pinnedLookup: LookupFunction = (_host, options, callback) => {
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: hostname,
        port,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        auth:
          url.username === ""
            ? undefined
            : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
        lookup: pinnedLookup,
        agent: false,
        signal: deadline.signal,
      },
      (answer) => {
        let drained = 0;
        answer.on("data", (chunk: Buffer) => {
          drained += chunk.length;
          if (drained > MAX_DRAINED_BODY_BYTES) answer.destroy();
        });
        // The status is all we wanted: a reset while draining, or the timeout aborting a slow
        // body, changes nothing about the outcome.
        answer.on("error", () => {});
        resolve({ status: answer.statusCode ?? 0, headers: answer.headers });
      },
    );
    outgoing.on("error", (cause) => {
      reject(deadline.signal.aborted ? timedOut(deadline, "POST") : connectionFailed(cause));
    });
    outgoing.end(body);
  });
}

function connectionFailed(cause: Error): EsignError {
  return new EsignError("E_WEBHOOK", `connection failed: ${cause.message}`, { cause });
}
