import { Redis } from "ioredis";

/**
 * A Redis connection that sends the commands issued in one turn of the event loop in one socket
 * write. ioredis writes each command (and each MULTI block) with a write of its own, and on this
 * machine a write to the loopback socket costs ~40 µs of CPU whatever its size (the kernel's TCP
 * path, and Redis waking to read it): a busy worker issues commands for many jobs at once, as
 * Redis's answers for them arrive together. Here the socket is corked at the first command of a
 * turn and uncorked once the turn's callbacks have run (`process.nextTick`), so the commands go out
 * together, in the order issued, as one writev. Nothing else changes: every command is still
 * queued for its reply as ioredis does it, a closed socket fails them as before, and a command is
 * never held back longer than the turn it was issued in.
 *
 * Unlike ioredis's `enableAutoPipelining`, it adds no pipeline object per batch, does not hold a
 * batch back until the previous one has been answered, and leaves MULTI and scripts as they are
 * (BullMQ reported lost job data with auto-pipelining: OptimalBits/bull#2276, taskforcesh/bullmq#457).
 * A `duplicate()` (what BullMQ makes for its blocking reads) is a plain connection.
 */
export class CoalescingRedis extends Redis {
  private corked: Redis["stream"] | undefined;

  override sendCommand(...args: Parameters<Redis["sendCommand"]>): unknown {
    const socket = this.stream;
    if (this.corked !== socket && this.status === "ready" && socket?.writable) {
      this.corked = socket;
      socket.cork();
      process.nextTick(() => {
        this.corked = undefined;
        socket.uncork();
      });
    }
    return super.sendCommand(...args);
  }
}
