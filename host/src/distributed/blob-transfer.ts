import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { InvocationRequest, InvocationSink } from "@conductor/sdk/protocol";
import type { Redis } from "ioredis";
import { type BlobDirectory, createBlobDirectory } from "../runtime/blob-directory.js";
import type { BlobStore } from "./blob-store.js";
import { createRedisBlobStore } from "./redis-blob-store.js";
import { connectRedis } from "./redis-connection.js";
import {
  localInputs,
  localLive,
  shareInputs,
  shareLive,
  transferringSink,
  type ValueTransfer,
} from "./shared-values.js";

/** Options of {@link BlobTransfer}. */
export interface BlobTransferOptions {
  /** The Redis URL of the deployment (the first blob store is Redis itself). */
  redis: string;
  /** A name for its Redis connection (`CLIENT LIST`). */
  name: string;
  /** The project directory: fetched blobs go under its `.conductor/tmp/`, as the host's own blobs do. */
  projectDir: string;
  /** Values up to this many bytes travel in the job. Default 1 MiB. */
  inlineLimit?: number;
  /** How long a blob stays in the store if its execution never ends. Default 1 day. */
  expireMs?: number;
  /** Another store than Redis (an S3-compatible one): see blob-store.ts. */
  store?: BlobStore;
}

/** Values up to this size travel in a job by default: a job is a Redis hash every BullMQ script reads whole. */
export const DEFAULT_JOB_INLINE_LIMIT = 1024 * 1024;

/**
 * The blob side of one scheduler or worker: its blob store (a Redis connection of its own, opened on first need,
 * so that small values never pay for it), the directory fetched blobs are written to, and the four moves of a
 * value between machines: a scheduler shares the inputs it sends and fetches the outputs it gets; a worker fetches
 * the inputs it gets and shares the outputs it sends.
 */
export class BlobTransfer {
  private connection: Redis | undefined;
  private directory: Promise<BlobDirectory> | undefined;
  private closed = false;
  /** Executions this scheduler put or fetched blobs for: the ones whose blobs it removes when they end. */
  private readonly withBlobs = new Set<string>();
  readonly inlineLimit: number;
  /** The store and limits, for shared-values.ts. */
  readonly transfer: ValueTransfer;

  constructor(private readonly options: BlobTransferOptions) {
    this.inlineLimit = options.inlineLimit ?? DEFAULT_JOB_INLINE_LIMIT;
    const store =
      options.store ??
      createRedisBlobStore({
        redis: () => {
          this.connection ??= connectRedis(options.redis, `${options.name}-blobs`);
          return this.connection;
        },
        ...(options.expireMs === undefined ? {} : { expireMs: options.expireMs }),
      });
    this.transfer = { store, inlineLimit: this.inlineLimit, blobDir: () => this.blobDir() };
  }

  private async blobDir(): Promise<string> {
    this.directory ??= createBlobDirectory({ projectDir: this.options.projectDir });
    return (await this.directory).path;
  }

  /** Scheduler: the request with large inputs put in the store (the same request, at once, when none is large). */
  outgoingRequest(request: InvocationRequest): InvocationRequest | Promise<InvocationRequest> {
    const shared = shareInputs(request, this.transfer);
    if (shared instanceof Promise) this.withBlobs.add(request.executionId);
    return shared;
  }

  /** Scheduler: the sink the job's events go to; outputs that are blobs of the store are fetched first. */
  incomingSink(sink: InvocationSink, executionId: string, nodes: readonly string[]): InvocationSink {
    return transferringSink(
      sink,
      (value) => {
        const local = localLive(value, this.transfer);
        if (local instanceof Promise) this.withBlobs.add(executionId);
        return local;
      },
      (step, port) => outputPlace(nodes, step, port),
    );
  }

  /**
   * Worker: the request with its inputs from the store fetched into a directory of this job, and a function that
   * removes that directory (call it when the job ended).
   */
  incomingRequest(request: InvocationRequest): {
    request: InvocationRequest | Promise<InvocationRequest>;
    release(): Promise<void>;
  } {
    let jobDir: string | undefined;
    const directory = async () => {
      jobDir ??= join(await this.blobDir(), `job-${randomUUID()}`);
      return jobDir;
    };
    return {
      request: localInputs(request, this.transfer, directory),
      release: async () => {
        if (jobDir !== undefined) await rm(jobDir, { recursive: true, force: true });
      },
    };
  }

  /** Worker: the sink its runtime's events go to; large outputs are put in the store before they leave. */
  outgoingSink(sink: InvocationSink, executionId: string, nodes: readonly string[]): InvocationSink {
    return transferringSink(
      sink,
      (value) => shareLive(value, executionId, this.transfer),
      (step, port) => outputPlace(nodes, step, port),
    );
  }

  /**
   * Removes the blobs of an execution that ended from the store, if it passed any: a worker puts its outputs there
   * under the execution's id, and this scheduler fetched them, so it knows. Blobs it never saw (a result it never
   * collected) expire by themselves.
   */
  async executionEnded(executionId: string): Promise<void> {
    if (this.closed || !this.withBlobs.delete(executionId)) return;
    await this.transfer.store.deleteExecution(executionId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connection?.disconnect();
    const directory = await this.directory?.catch(() => undefined);
    await directory?.remove();
  }
}

function outputPlace(
  nodes: readonly string[],
  step: number,
  port: string,
): { text: string; nodeId?: string } {
  const nodeId = nodes[step];
  return nodeId === undefined
    ? { text: `output "${port}" of step ${step}` }
    : { text: `output "${port}" of node "${nodeId}"`, nodeId };
}
