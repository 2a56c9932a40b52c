import { EsignError } from "@esign/errors";
import type { Cluster, Redis } from "ioredis";
import { EVENTS_STREAM, EVENTS_STREAM_MAX_LENGTH } from "./constants";
import { type JobEvent, JobEventSchema } from "./schemas";

/**
 * Stream entry layout: `type` and `jobId` as plain fields (so `XREAD` output is readable and
 * consumers in any language can filter without parsing), `event` the full JSON event.
 */
export async function publishJobEvent(
  redis: Redis | Cluster,
  event: JobEvent,
  { stream = EVENTS_STREAM, maxLength = EVENTS_STREAM_MAX_LENGTH } = {},
): Promise<string> {
  const valid = JobEventSchema.parse(event);
  return addEventEntry(
    redis,
    { type: valid.type, jobId: valid.data.jobId, event: valid },
    { stream, maxLength },
  );
}

/** Appends one entry in the stream's layout (`type`, `jobId`, `event` as JSON); for every event kind. */
export async function addEventEntry(
  redis: Redis | Cluster,
  entry: { type: string; jobId: string; event: unknown },
  { stream, maxLength }: { stream: string; maxLength: number },
): Promise<string> {
  const id = await redis.xadd(
    stream,
    "MAXLEN",
    "~",
    String(maxLength),
    "*",
    "type",
    entry.type,
    "jobId",
    entry.jobId,
    "event",
    JSON.stringify(entry.event),
  );
  return id!;
}

/** Decodes the field list of one stream entry (as XREAD/XRANGE return it). */
export function parseJobEventEntry(fields: string[]): JobEvent {
  const index = fields.findIndex((field, position) => position % 2 === 0 && field === "event");
  if (index < 0) throw new EsignError("E_INVALID_JOB", "stream entry has no 'event' field");
  let json: unknown;
  try {
    json = JSON.parse(fields[index + 1]!);
  } catch (error) {
    throw new EsignError("E_INVALID_JOB", "stream entry's 'event' field is not JSON", { cause: error });
  }
  const parsed = JobEventSchema.safeParse(json);
  if (!parsed.success) throw new EsignError("E_INVALID_JOB", `invalid job event: ${parsed.error.message}`);
  return parsed.data;
}
