import { randomBytes } from "node:crypto";
import { EsignError } from "@esign/errors";
import { describe, expect, it } from "vitest";
import { BlockCachedSource, type RangeFetcher } from "../src";

const data = randomBytes(10_000);

/** Serves `data` like a backend would, recording each range asked for. */
function backend(): { fetch: RangeFetcher; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    fetch: async (start, end) => {
      asked.push(`${start}-${end}`);
      return data.subarray(start, end);
    },
  };
}

describe("BlockCachedSource", () => {
  it("shares one request among concurrent reads of the same block", async () => {
    const { fetch, asked } = backend();
    const source = new BlockCachedSource("s", "k", data.length, '"e"', fetch, { blockSize: 1000 });
    const reads = await Promise.all([source.read(10, 5), source.read(500, 100), source.read(990, 20)]);
    expect(Buffer.from(reads[2]!).equals(data.subarray(990, 1010))).toBe(true);
    expect(asked).toEqual(["0-1000", "1000-2000"]);
  });

  it("evicts the least recently used block", async () => {
    const { fetch, asked } = backend();
    const source = new BlockCachedSource("s", "k", data.length, '"e"', fetch, {
      blockSize: 1000,
      maxBlocks: 2,
    });
    await source.read(0, 1); // block 0
    await source.read(1000, 1); // block 1
    await source.read(0, 1); // block 0 is now the most recent
    await source.read(2000, 1); // block 2 evicts block 1
    await source.read(0, 1);
    await source.read(1000, 1);
    expect(asked).toEqual(["0-1000", "1000-2000", "2000-3000", "1000-2000"]);
  });

  it("does not cache a failed request, and refuses short answers", async () => {
    let failures = 1;
    const flaky: RangeFetcher = async (start, end) => {
      if (failures-- > 0) throw new EsignError("E_STORAGE", "connection reset");
      return data.subarray(start, end);
    };
    const source = new BlockCachedSource("s", "k", data.length, '"e"', flaky, { blockSize: 1000 });
    await expect(source.read(0, 10)).rejects.toMatchObject({ code: "E_STORAGE" });
    expect(Buffer.from(await source.read(0, 10)).equals(data.subarray(0, 10))).toBe(true);

    const short = new BlockCachedSource("s", "k", data.length, '"e"', async () => data.subarray(0, 3));
    await expect(short.read(0, 10)).rejects.toMatchObject({ code: "E_STORAGE" });
  });
});
