/**
 * A store of values too large to travel inside a job, that every machine of a distributed deployment reaches: the
 * scheduler puts a large input there and sends its reference in the job, the worker fetches it and puts large
 * outputs there in turn (docs/distributed.md, "Values between machines"). Blobs belong to one execution: they are
 * removed when it ends, and expire by themselves in case nobody removes them (a scheduler killed for good).
 *
 * The first store keeps them in Redis itself, in chunks ({@link createRedisBlobStore}); an S3-compatible store is
 * one more implementation of this interface (put as a multipart upload, stream as a ranged GET, delete by the
 * execution's key prefix, expiry by a bucket lifecycle rule), with its own URI scheme.
 */
export interface BlobStore {
  /** Whether `uri` names a blob of this store (`redis-blob:...` for the Redis store). */
  owns(uri: string): boolean;
  /**
   * Stores the bytes of one blob of execution `executionId`, from memory or streamed chunk by chunk (memory stays
   * bounded by a few chunks), and gives its URI. `sha256` (hex) and `size` describe the content and are checked
   * against it; the same content put twice for one execution is stored once.
   */
  put(executionId: string, blob: BlobInfo, content: Uint8Array | AsyncIterable<Uint8Array>): Promise<string>;
  /**
   * The bytes of a blob in order, a chunk at a time, checked against `expected` (size, and SHA-256 at the end).
   * Throws a `ValueError` of type `blob.corrupt` when a part is missing (expired, or removed with its execution)
   * or the content differs.
   */
  stream(uri: string, expected: BlobInfo): AsyncIterable<Uint8Array>;
  /** The whole blob in memory (for small ones); the same checks as {@link stream}. */
  get(uri: string, expected: BlobInfo): Promise<Uint8Array>;
  /** Removes one blob. */
  delete(uri: string): Promise<void>;
  /** Removes every blob of an execution (when it ended); gives how many there were. */
  deleteExecution(executionId: string): Promise<number>;
}

/** What is known of a blob's content before reading it. */
export interface BlobInfo {
  size: number;
  /** SHA-256 of the content, lowercase hex. */
  sha256: string;
}
