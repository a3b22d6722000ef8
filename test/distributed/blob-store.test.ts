/**
 * The Redis blob store against a real redis-server: chunks, expiry, removal by execution, and what a missing or
 * damaged chunk gives; and the moves of a value between a machine's files and the store (shared-values.ts).
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { BlobRef_Encoding, BlobRefSchema, ValueSchema } from "@conductor/sdk/protocol";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlobStore } from "../../host/src/distributed/blob-store.js";
import { createRedisBlobStore } from "../../host/src/distributed/redis-blob-store.js";
import { localValue, shareValue, type ValueTransfer } from "../../host/src/distributed/shared-values.js";
import { startRedis, type TestRedis } from "./redis-server.js";

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

function bytesOf(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, index) => (index * 31 + seed) & 0xff);
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) yield bytes.slice(offset, offset + size);
}

describe("createRedisBlobStore()", () => {
  let redis: TestRedis;
  let client: Redis;
  let store: BlobStore;
  let dir: string;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    store = createRedisBlobStore({ redis: client, chunkBytes: 1000, expireMs: 60_000 });
    dir = await mkdtemp(join(tmpdir(), "conductor-blob-store-"));
  });

  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores a value in chunks with an expiry, from memory or a stream of any piece size, and gives it back", async () => {
    const value = bytesOf(10_500, 1);
    const uri = await store.put("exec-1", { size: value.byteLength, sha256: sha(value) }, value);
    expect(uri).toBe(`redis-blob:exec-1/${sha(value)}`);
    expect(await collect(store.stream(uri, { size: value.byteLength, sha256: sha(value) }))).toEqual(
      Buffer.from(value),
    );
    const chunks = await client.keys(`conductor:blob:exec-1:${sha(value)}:*`);
    expect(chunks).toHaveLength(11);
    expect((await client.strlen(`conductor:blob:exec-1:${sha(value)}:0`)) as number).toBe(1000);
    for (const key of [...chunks, `conductor:blob:exec-1:${sha(value)}`, "conductor:exec:exec-1:blobs"]) {
      const ttl = await client.pttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(60_000);
    }
    // Streamed in pieces that are not the chunk size: re-cut into chunks of 1000.
    const other = bytesOf(4_321, 2);
    const streamed = await store.put(
      "exec-1",
      { size: other.byteLength, sha256: sha(other) },
      pieces(other, 333),
    );
    expect(await store.get(streamed, { size: other.byteLength, sha256: sha(other) })).toEqual(
      Buffer.from(other),
    );
    expect(await client.keys(`conductor:blob:exec-1:${sha(other)}:*`)).toHaveLength(5);
  });

  it("removes every blob of an execution, and only of that one", async () => {
    const value = bytesOf(2_500, 3);
    await store.put("exec-2", { size: value.byteLength, sha256: sha(value) }, value);
    await store.put("exec-3", { size: value.byteLength, sha256: sha(value) }, value);
    expect(await store.deleteExecution("exec-1")).toBe(2);
    expect(await store.deleteExecution("exec-2")).toBe(1);
    expect(await client.keys("conductor:*exec-1*")).toEqual([]);
    expect(await client.keys("conductor:*exec-2*")).toEqual([]);
    expect((await client.keys("conductor:blob:exec-3:*")).length).toBe(4);
    await store.deleteExecution("exec-3");
  });

  it("refuses content that is not what its reference says", async () => {
    const value = bytesOf(1_500, 4);
    await expect(store.put("exec-4", { size: 1_500, sha256: "0".repeat(64) }, value)).rejects.toThrow(
      `blob of 1500 bytes with SHA-256 ${"0".repeat(64)} was given 1500 bytes with SHA-256 ${sha(value)}`,
    );
    // Nothing of it stays.
    expect(await client.keys(`conductor:blob:exec-4:${"0".repeat(64)}*`)).toEqual([]);
  });

  it("says which chunk is missing, and when a chunk was changed", async () => {
    const value = bytesOf(3_000, 5);
    const info = { size: value.byteLength, sha256: sha(value) };
    const uri = await store.put("exec-5", info, value);
    await client.set(`conductor:blob:exec-5:${sha(value)}:2`, Buffer.from(bytesOf(1_000, 6)));
    await expect(collect(store.stream(uri, info))).rejects.toThrow(
      `blob ${uri} has 3000 bytes with SHA-256 `,
    );
    await client.del(`conductor:blob:exec-5:${sha(value)}:1`);
    await expect(collect(store.stream(uri, info))).rejects.toMatchObject({
      type: "blob.corrupt",
      message: `chunk 2 of 3 of blob ${uri} is missing from Redis (it expired, or was removed when its execution ended)`,
    });
    await store.deleteExecution("exec-5");
    await expect(collect(store.stream(uri, info))).rejects.toThrow(
      `blob ${uri} is not in Redis (it expired, or was removed when its execution ended)`,
    );
  });

  it("moves an Arrow value from a file of one machine through the store into a file of another, as Arrow", async () => {
    const bytes = bytesOf(5_000, 7);
    const path = join(dir, sha(bytes));
    await writeFile(path, bytes);
    const transfer: ValueTransfer = { store, inlineLimit: 1_000, blobDir: async () => join(dir, "fetched") };
    const fileValue = create(ValueSchema, {
      kind: {
        case: "blob",
        value: create(BlobRefSchema, {
          uri: pathToFileURL(path).href,
          size: 5_000n,
          sha256: sha(bytes),
          encoding: BlobRef_Encoding.ARROW,
        }),
      },
    });
    const shared = await shareValue(fileValue, "exec-6", transfer);
    expect(shared.kind.case).toBe("blob");
    const sharedRef = shared.kind.value as { uri: string; encoding: BlobRef_Encoding };
    expect(sharedRef.uri).toBe(`redis-blob:exec-6/${sha(bytes)}`);
    expect(sharedRef.encoding).toBe(BlobRef_Encoding.ARROW);
    const local = await localValue(shared, transfer);
    const localRef = local.kind.value as { uri: string; encoding: BlobRef_Encoding; size: bigint };
    expect(localRef.encoding).toBe(BlobRef_Encoding.ARROW);
    expect(localRef.size).toBe(5_000n);
    expect(fileURLToPath(localRef.uri)).toBe(join(dir, "fetched", sha(bytes)));
    expect(await readFile(fileURLToPath(localRef.uri))).toEqual(Buffer.from(bytes));
    // An inline value over the limit goes to the store; one under it stays inline, untouched.
    const inline = create(ValueSchema, { kind: { case: "arrow", value: bytes } });
    const put = await shareValue(inline, "exec-6", transfer);
    expect(put.kind.case === "blob" && put.kind.value.encoding).toBe(BlobRef_Encoding.ARROW);
    const small = create(ValueSchema, { kind: { case: "raw", value: bytes.subarray(0, 1_000) } });
    expect(shareValue(small, "exec-6", transfer)).toBe(small);
    await store.deleteExecution("exec-6");
  });
});
