import { EsignError } from "@esign/errors";
import type { IRedisTransaction } from "bullmq";
import type { ChainableCommander, Cluster, Redis } from "ioredis";

/**
 * Marks every job key in KEYS that does not exist yet when Redis runs this after ARGV[1] (ms,
 * Redis's clock); returns 1 when late.
 */
const MARK_IF_LATE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if now <= tonumber(ARGV[1]) then return 0 end
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then redis.call('HSET', key, 'esign-late', '1') end
end
return 1`;
/**
 * Removes the marks, and the dependency set a marked parent gains when BullMQ, seeing its child's
 * key marked too, records the "duplicate" child as its dependency.
 */
const UNMARK_LATE = `
for _, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'esign-late') == '1' then redis.call('DEL', key, key .. ':dependencies') end
end
return 0`;

/** BullMQ's transaction is ioredis's MULTI with BullMQ's script runner added: `eval` is there. */
export type AddTransaction = IRedisTransaction & Pick<ChainableCommander, "eval">;

/**
 * Runs `add` (BullMQ adds of the jobs whose keys are `jobKeys`, queued on the transaction) only if
 * Redis runs the transaction by `deadline` (Redis's clock, BoundedRedis.deadline()): a submission
 * that reaches Redis after its caller was told it failed (Redis was stopped with the command in its
 * socket buffer) adds nothing. A late run marks the keys so that BullMQ's adds see duplicates and
 * add nothing, then removes the marks. Every job key of the submission must be in `jobKeys`.
 */
export async function addBefore(
  client: Redis | Cluster,
  deadline: number,
  jobKeys: readonly string[],
  add: (transaction: AddTransaction) => Promise<unknown>,
): Promise<void> {
  const transaction = client.multi() as unknown as AddTransaction;
  transaction.eval(MARK_IF_LATE, jobKeys.length, ...jobKeys, String(Math.floor(deadline)));
  // Queued, not sent: an ioredis MULTI goes out at exec(), in one write.
  await add(transaction);
  transaction.eval(UNMARK_LATE, jobKeys.length, ...jobKeys);
  const replies = await transaction.exec();
  for (const [error] of replies ?? []) if (error) throw error;
  if (replies?.[0]?.[1] === 1) {
    throw new EsignError(
      "E_UNAVAILABLE",
      "Redis ran the submission after its deadline: nothing was enqueued",
    );
  }
}
