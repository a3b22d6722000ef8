import { createHash } from "node:crypto";
import { ValueError } from "@conductor/sdk/protocol";
import type { Redis } from "ioredis";
import type { BlobInfo, BlobStore } from "./blob-store.js";
import { blobChunkKey, blobKey, executionBlobsKey } from "./keys.js";

/** Options of {@link createRedisBlobStore}. */
export interface RedisBlobStoreOptions {
  /**
   * The connection it uses. Best its own: a chunk of a megabyte on a connection shared with small commands holds
   * them up while it is sent. A function: called on first use, so that a process that never passes a large value
   * never opens it.
   */
  redis: Redis | (() => Redis);
  /** Bytes per chunk (one Redis string each). Default 1 MiB. */
  chunkBytes?: number;
  /** How long a blob stays if its execution never ends (its scheduler is gone for good). Default 1 day. */
  expireMs?: number;
  /** Chunk writes or reads in flight at once, which bounds the memory of one transfer. Default 4. */
  window?: number;
}

const SCHEME = "redis-blob:";

/**
 * A {@link BlobStore} in Redis: each blob is a hash of its size and chunk count (`conductor:blob:<execution>:
 * <sha256>`, written last, so a blob whose hash exists is complete) and one string per chunk (`...:<n>`), every key
 * with an expiry; the execution's set `conductor:exec:<execution>:blobs` lists them for {@link
 * BlobStore.deleteExecution}. Because Redis holds everything in memory, a deployment passing many large values
 * should give Redis the memory for the largest values of the executions running at once, or use an S3-compatible
 * store.
 */
export function createRedisBlobStore(options: RedisBlobStoreOptions): BlobStore {
  let connection: Redis | undefined;
  const lazy = options.redis;
  const redisOf = (): Redis => {
    connection ??= typeof lazy === "function" ? lazy() : lazy;
    return connection;
  };
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const expireMs = options.expireMs ?? 86_400_000;
  const window = Math.max(1, options.window ?? 4);

  const readMeta = async (uri: string): Promise<{ key: string; chunks: number }> => {
    const { executionId, sha256 } = parseUri(uri);
    const key = blobKey(executionId, sha256);
    const chunks = await redisOf().hget(key, "chunks");
    if (chunks === null) {
      throw new ValueError(
        `blob ${uri} is not in Redis (it expired, or was removed when its execution ended)`,
        "blob.corrupt",
      );
    }
    return { key, chunks: Number(chunks) };
  };

  return {
    owns: (uri) => uri.startsWith(SCHEME),

    async put(executionId, blob, content) {
      const uri = `${SCHEME}${encodeURIComponent(executionId)}/${blob.sha256}`;
      const key = blobKey(executionId, blob.sha256);
      // The same content of the same execution (a value passed to several remote nodes) is stored once.
      if ((await redisOf().exists(key)) === 1) {
        await redisOf().pexpire(key, expireMs);
        return uri;
      }
      const chunks = Math.ceil(blob.size / chunkBytes);
      const index = executionBlobsKey(executionId);
      // Listed before its chunks are written, so that removing the execution's blobs finds a half-written one too.
      await redisOf().multi().sadd(index, `${blob.sha256}:${chunks}`).pexpire(index, expireMs).exec();
      const hash = createHash("sha256");
      let size = 0;
      let count = 0;
      const writing: Promise<unknown>[] = [];
      try {
        for await (const piece of pieces(content, chunkBytes)) {
          hash.update(piece);
          size += piece.byteLength;
          const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
          writing.push(
            quiet(redisOf().set(blobChunkKey(executionId, blob.sha256, count++), bytes, "PX", expireMs)),
          );
          if (writing.length >= window) await writing.shift();
        }
        await Promise.all(writing);
        const sha256 = hash.digest("hex");
        if (size !== blob.size || sha256 !== blob.sha256) {
          throw new ValueError(
            `blob of ${blob.size} bytes with SHA-256 ${blob.sha256} was given ${size} bytes with SHA-256 ${sha256}`,
            "blob.corrupt",
          );
        }
        await redisOf()
          .multi()
          .hset(key, { size: blob.size, chunks: count, chunkBytes })
          .pexpire(key, expireMs)
          .exec();
        return uri;
      } catch (error) {
        await Promise.allSettled(writing);
        await removeChunks(redisOf(), executionId, blob.sha256, Math.max(count, chunks)).catch(() => {});
        throw error;
      }
    },

    async *stream(uri: string, expected: BlobInfo) {
      const { executionId, sha256 } = parseUri(uri);
      const { chunks } = await readMeta(uri);
      const hash = createHash("sha256");
      let size = 0;
      const reading: Promise<Buffer | null>[] = [];
      let next = 0;
      const ask = () => {
        while (reading.length < window && next < chunks)
          reading.push(quiet(redisOf().getBuffer(blobChunkKey(executionId, sha256, next++))));
      };
      try {
        for (let index = 0; index < chunks; index++) {
          ask();
          const chunk = await reading.shift()!;
          if (chunk === null) {
            throw new ValueError(
              `chunk ${index + 1} of ${chunks} of blob ${uri} is missing from Redis (it expired, or was removed when its execution ended)`,
              "blob.corrupt",
            );
          }
          hash.update(chunk);
          size += chunk.byteLength;
          yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        }
      } finally {
        // Reads still under way when the consumer stopped early are not waited for.
        reading.length = 0;
      }
      const sha = hash.digest("hex");
      if (size !== expected.size || sha !== expected.sha256) {
        throw new ValueError(
          `blob ${uri} has ${size} bytes with SHA-256 ${sha}; its reference says ${expected.size} bytes with SHA-256 ${expected.sha256}`,
          "blob.corrupt",
        );
      }
    },

    async get(uri, expected) {
      const parts: Uint8Array[] = [];
      for await (const part of this.stream(uri, expected)) parts.push(part);
      return Buffer.concat(parts);
    },

    async delete(uri) {
      const { executionId, sha256 } = parseUri(uri);
      const key = blobKey(executionId, sha256);
      const chunks = Number((await redisOf().hget(key, "chunks")) ?? 0);
      await removeChunks(redisOf(), executionId, sha256, chunks);
      await redisOf().srem(executionBlobsKey(executionId), `${sha256}:${chunks}`);
    },

    async deleteExecution(executionId) {
      const index = executionBlobsKey(executionId);
      const members = await redisOf().smembers(index);
      for (const member of members) {
        const [sha256, chunks] = member.split(":");
        await removeChunks(redisOf(), executionId, sha256!, Number(chunks));
      }
      await redisOf().unlink(index);
      return members.length;
    },
  };
}

/**
 * The same promise, marked as handled: a transfer keeps several commands in flight and awaits them one by one, so
 * one that fails while another is awaited must not count as an unhandled rejection (it is seen when awaited).
 */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** Removes a blob's hash and chunks, a thousand keys per command. */
async function removeChunks(
  redis: Redis,
  executionId: string,
  sha256: string,
  chunks: number,
): Promise<void> {
  const keys = [blobKey(executionId, sha256)];
  for (let index = 0; index < chunks; index++) {
    keys.push(blobChunkKey(executionId, sha256, index));
    if (keys.length >= 1000) await redis.unlink(...keys.splice(0));
  }
  if (keys.length > 0) await redis.unlink(...keys);
}

function parseUri(uri: string): { executionId: string; sha256: string } {
  const slash = uri.lastIndexOf("/");
  if (!uri.startsWith(SCHEME) || slash < SCHEME.length) {
    throw new ValueError(
      `"${uri}" is not a blob of the Redis store; expected ${SCHEME}<execution>/<sha256>`,
      "blob.corrupt",
    );
  }
  return { executionId: decodeURIComponent(uri.slice(SCHEME.length, slash)), sha256: uri.slice(slash + 1) };
}

/**
 * The content in pieces of exactly `size` bytes (the last one shorter): views of one buffer, or of a stream's
 * chunks when they have that size already (a file read with `highWaterMark` = `size`), else copied together.
 */
async function* pieces(
  content: Uint8Array | AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  if (content instanceof Uint8Array) {
    for (let offset = 0; offset < content.byteLength; offset += size)
      yield content.subarray(offset, Math.min(offset + size, content.byteLength));
    return;
  }
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  for await (const chunk of content) {
    let rest = chunk;
    while (rest.byteLength > 0) {
      if (heldBytes === 0 && rest.byteLength >= size) {
        yield rest.subarray(0, size);
        rest = rest.subarray(size);
        continue;
      }
      const take = Math.min(size - heldBytes, rest.byteLength);
      held.push(rest.subarray(0, take));
      heldBytes += take;
      rest = rest.subarray(take);
      if (heldBytes === size) {
        yield Buffer.concat(held);
        held = [];
        heldBytes = 0;
      }
    }
  }
  if (heldBytes > 0) yield Buffer.concat(held);
}
