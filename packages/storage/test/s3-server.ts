import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import type { S3StoreConfig } from "../src";

export interface RunningS3 {
  /** Store configuration pointing at the server's bucket. */
  config(overrides?: Partial<S3StoreConfig>): S3StoreConfig;
  stop(): Promise<void>;
}

/** A real S3 server over HTTP on 127.0.0.1 (s3rver), with one empty bucket, data in a temp dir. */
export async function startS3(bucket = "esign-test"): Promise<RunningS3> {
  const directory = await mkdtemp(join(tmpdir(), "esign-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  return {
    config: (overrides = {}) => ({
      type: "s3",
      endpoint: `http://127.0.0.1:${port}`,
      region: "us-east-1",
      bucket,
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      checksums: "when_required",
      ...overrides,
    }),
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
