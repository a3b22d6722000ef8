import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import {
  BlobRef_Encoding,
  BlobRefSchema,
  EncodedValue,
  encodeValue,
  type FailureInfo,
  type InvocationRequest,
  type InvocationSink,
  readBlob,
  type StepInput,
  type Value,
  ValueError,
  ValueSchema,
} from "@conductor/sdk/protocol";
import type { BlobStore } from "./blob-store.js";

/**
 * Values crossing machines (docs/distributed.md, "Values between machines"): a value up to the inline limit
 * travels in the job (or its result); a larger one, or one in a file of this machine, is put in the shared
 * {@link BlobStore} and travels as its reference; on the other side a reference is fetched into a local file, the
 * form runtimes and the journal take large values in. Both ways stream a chunk at a time, so memory holds a value
 * at most once (when it is in memory to begin with).
 */
export interface ValueTransfer {
  store: BlobStore;
  /** Values up to this many bytes travel in the job. */
  inlineLimit: number;
  /** A directory of this machine for the blobs fetched from the store. */
  blobDir(): Promise<string>;
  /** Bytes read from a file per chunk when putting it in the store. */
  chunkBytes?: number;
}

/** A value as it may leave this machine: inline, or a blob of the shared store; a promise when it must be put. */
export function shareValue(
  value: Value,
  executionId: string,
  transfer: ValueTransfer,
): Value | Promise<Value> {
  const kind = value.kind;
  if (kind.case === undefined) return value;
  if (kind.case === "blob") {
    const ref = kind.value;
    if (transfer.store.owns(ref.uri)) return value;
    // A blob in a file of this machine: small ones travel inline, large ones are streamed into the store.
    if (ref.size <= BigInt(transfer.inlineLimit)) return inlineOf(readBlob(ref), ref.encoding);
    return shareFile(ref.uri, Number(ref.size), ref.sha256, ref.encoding, executionId, transfer);
  }
  if (kind.value.byteLength <= transfer.inlineLimit) return value;
  const bytes = kind.value;
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const encoding = ENCODING_OF_KIND[kind.case];
  return transfer.store
    .put(executionId, { size: bytes.byteLength, sha256 }, bytes)
    .then((uri) => blobValue(uri, bytes.byteLength, sha256, encoding));
}

async function shareFile(
  uri: string,
  size: number,
  knownSha256: string,
  encoding: BlobRef_Encoding,
  executionId: string,
  transfer: ValueTransfer,
): Promise<Value> {
  const path = fileURLToPath(uri);
  const highWaterMark = transfer.chunkBytes ?? 1024 * 1024;
  // A runtime may leave a blob's hash out; it names the blob in the store, so it is read once more to find it.
  let sha256 = knownSha256;
  if (sha256 === "") {
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(path, { highWaterMark })) hash.update(chunk as Buffer);
    sha256 = hash.digest("hex");
  }
  const shared = await transfer.store.put(
    executionId,
    { size, sha256 },
    createReadStream(path, { highWaterMark }) as AsyncIterable<Uint8Array>,
  );
  return blobValue(shared, size, sha256, encoding);
}

/**
 * A value as this machine's runtimes and journal take it: a blob of the shared store is fetched (streamed, checked
 * against its size and SHA-256) into a file of `directory` (default: the transfer's blob directory); anything else
 * is returned as it is. Throws a `ValueError` of type `blob.corrupt` when the blob is missing or damaged.
 */
export function localValue(
  value: Value,
  transfer: ValueTransfer,
  directory?: string,
): Value | Promise<Value> {
  const kind = value.kind;
  if (kind.case !== "blob" || !transfer.store.owns(kind.value.uri)) return value;
  const ref = kind.value;
  return (async () => {
    const dir = directory ?? (await transfer.blobDir());
    const path = join(dir, ref.sha256);
    const size = Number(ref.size);
    const present = await stat(path).catch(() => undefined);
    if (present?.size !== size) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const temp = `${path}.${randomUUID()}.tmp`;
      try {
        await pipeline(transfer.store.stream(ref.uri, { size, sha256: ref.sha256 }), createWriteStream(temp));
        await rename(temp, path);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    }
    return blobValue(pathToFileURL(path).href, size, ref.sha256, ref.encoding);
  })();
}

/**
 * The request with every input value in a form that may leave this machine ({@link shareValue}): the same
 * request when no value needs the store (the common case costs no promise), else a promise of a copy. A value
 * that cannot be encoded throws a `ValueError`; one the store cannot take rejects, naming the node and the port.
 */
export function shareInputs(
  request: InvocationRequest,
  transfer: ValueTransfer,
): InvocationRequest | Promise<InvocationRequest> {
  return mapInputs(request, (value, where) => {
    const wire = wireOf(value, transfer.inlineLimit);
    if (wire === undefined) return value;
    const shared = shareValue(wire, request.executionId, transfer);
    return shared instanceof Promise
      ? shared.then(
          (done) => new EncodedValue(done),
          (error: Error) => {
            throw new ValueError(
              `${where} cannot be put in the blob store: ${error.message}`,
              "blob.corrupt",
            );
          },
        )
      : new EncodedValue(shared);
  });
}

/**
 * The request with every input that is a blob of the shared store fetched into a local file (see {@link
 * localValue}); rejects with a `ValueError` naming the node and the port when one is missing or damaged.
 */
export function localInputs(
  request: InvocationRequest,
  transfer: ValueTransfer,
  directory: () => Promise<string>,
): InvocationRequest | Promise<InvocationRequest> {
  return mapInputs(request, (value, where) => {
    if (!(value instanceof EncodedValue)) return value;
    const wire = value.wire;
    if (wire.kind.case !== "blob" || !transfer.store.owns(wire.kind.value.uri)) return value;
    return directory()
      .then((dir) => localValue(wire, transfer, dir))
      .then(
        (local) => new EncodedValue(local),
        (error: Error) => {
          throw new ValueError(`${where} cannot be read: ${error.message}`, "blob.corrupt");
        },
      );
  });
}

function mapInputs(
  request: InvocationRequest,
  map: (value: unknown, where: string) => unknown,
): InvocationRequest | Promise<InvocationRequest> {
  let waits: Promise<unknown>[] | undefined;
  let steps: InvocationRequest["steps"] | undefined;
  request.steps.forEach((step, index) => {
    for (const port in step.inputs) {
      const input = step.inputs[port]!;
      if (!("value" in input)) continue;
      const mapped = map(input.value, `input "${port}" of node "${step.nodeId}" (${step.nodeType})`);
      if (mapped === input.value) continue;
      steps ??= request.steps.map((original) => ({ ...original, inputs: { ...original.inputs } }));
      const inputs = steps[index]!.inputs;
      if (mapped instanceof Promise) {
        waits ??= [];
        waits.push(
          mapped.then((value) => {
            inputs[port] = { value } as StepInput;
          }),
        );
      } else inputs[port] = { value: mapped };
    }
  });
  if (steps === undefined) return request;
  const copy = { ...request, steps };
  return waits === undefined ? copy : Promise.all(waits).then(() => copy);
}

/**
 * The wire form of a value when it may need the store (a blob, or more than `inlineLimit` bytes); undefined when
 * it certainly travels inline as it is (a primitive, small bytes, a small encoded value). A live object or table is
 * encoded here whatever its size, once: the job carries this encoding, nothing encodes it again.
 */
function wireOf(value: unknown, inlineLimit: number): Value | undefined {
  if (value instanceof EncodedValue) {
    const kind = value.wire.kind;
    return kind.case === "blob" || value.byteLength > inlineLimit ? value.wire : undefined;
  }
  if (value instanceof Uint8Array && value.byteLength <= inlineLimit) return undefined;
  if (value === null || typeof value !== "object") return undefined;
  return encodeValue(value);
}

/**
 * A sink whose completed outputs and chunks pass through `transfer` first (which gives a promise only when a value
 * must move: put in the store, or fetched from it), every event delivered in order. A value that cannot be moved
 * fails its step, with `where` naming the node and the port in the message.
 */
export function transferringSink(
  sink: InvocationSink,
  transfer: (value: unknown) => unknown,
  where: (step: number, port: string) => { text: string; nodeId?: string },
): InvocationSink {
  let tail: Promise<void> | undefined;
  const broken = new Map<number, FailureInfo>();
  const failureOf = (step: number, port: string, error: unknown): FailureInfo => {
    const place = where(step, port);
    return {
      message: `${place.text}: ${(error as Error).message}`,
      type: error instanceof ValueError ? error.type : "blob.corrupt",
      retryable: false,
      ...(place.nodeId === undefined ? {} : { nodeId: place.nodeId }),
    };
  };
  // Runs `work` after what waits; while nothing waits, at once (no promise, no reordering).
  const inOrder = (work: () => void | Promise<void>) => {
    if (tail === undefined) {
      const result = work();
      if (result instanceof Promise) follow(result);
    } else follow(tail.then(work));
  };
  const follow = (promise: Promise<void>) => {
    const next: Promise<void> = promise.then(
      () => {
        if (tail === next) tail = undefined;
      },
      () => {
        if (tail === next) tail = undefined;
      },
    );
    tail = next;
  };
  return {
    started: (step) => inOrder(() => sink.started(step)),
    log: (step, level, message, fields) => inOrder(() => sink.log(step, level, message, fields)),
    progress: (step, fraction, message) => inOrder(() => sink.progress(step, fraction, message)),
    heartbeat: (step, details) => inOrder(() => sink.heartbeat(step, details)),
    chunk: (step, port, value) =>
      inOrder(() => {
        let moved: unknown;
        try {
          moved = transfer(value);
        } catch (error) {
          broken.set(step, failureOf(step, port, error));
          return;
        }
        if (!(moved instanceof Promise)) return sink.chunk(step, port, moved);
        return moved.then(
          (done) => sink.chunk(step, port, done),
          (error) => {
            broken.set(step, failureOf(step, port, error));
          },
        );
      }),
    completed: (step, outputs, durationUs) =>
      inOrder(() => {
        const moved: Record<string, unknown> = {};
        const waits: Promise<void>[] = [];
        let failure = broken.get(step);
        for (const port in outputs) {
          if (failure !== undefined) break;
          try {
            const value = transfer(outputs[port]);
            if (value instanceof Promise)
              waits.push(
                value.then(
                  (done) => {
                    moved[port] = done;
                  },
                  (error) => {
                    failure ??= failureOf(step, port, error);
                  },
                ),
              );
            else moved[port] = value;
          } catch (error) {
            failure = failureOf(step, port, error);
          }
        }
        const deliver = () => {
          if (failure !== undefined) sink.failed(step, failure, durationUs);
          else sink.completed(step, moved, durationUs);
        };
        if (waits.length === 0) return deliver();
        return Promise.all(waits).then(deliver);
      }),
    failed: (step, failure, durationUs) => inOrder(() => sink.failed(step, failure, durationUs)),
    cancelled: (step, reason) => inOrder(() => sink.cancelled(step, reason)),
    rejected: (failure) => inOrder(() => sink.rejected(failure)),
    credit: (step, port, credits) => inOrder(() => sink.credit?.(step, port, credits)),
  };
}

/** What a worker's output or a scheduler's input becomes before it leaves: see {@link shareValue}. */
export function shareLive(value: unknown, executionId: string, transfer: ValueTransfer): unknown {
  const wire = wireOf(value, transfer.inlineLimit);
  if (wire === undefined) return value;
  const shared = shareValue(wire, executionId, transfer);
  return shared instanceof Promise ? shared.then((done) => new EncodedValue(done)) : new EncodedValue(shared);
}

/** What a value received from another machine becomes here: see {@link localValue}. */
export function localLive(value: unknown, transfer: ValueTransfer): unknown {
  if (!(value instanceof EncodedValue)) return value;
  const local = localValue(value.wire, transfer);
  return local instanceof Promise
    ? local.then((done) => new EncodedValue(done))
    : local === value.wire
      ? value
      : new EncodedValue(local);
}

const ENCODING_OF_KIND = {
  json: BlobRef_Encoding.JSON,
  raw: BlobRef_Encoding.RAW,
  arrow: BlobRef_Encoding.ARROW,
} as const;

function blobValue(uri: string, size: number, sha256: string, encoding: BlobRef_Encoding): Value {
  return create(ValueSchema, {
    kind: { case: "blob", value: create(BlobRefSchema, { uri, size: BigInt(size), sha256, encoding }) },
  });
}

function inlineOf(bytes: Uint8Array, encoding: BlobRef_Encoding): Value {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (encoding) {
    case BlobRef_Encoding.JSON:
      return create(ValueSchema, { kind: { case: "json", value: view } });
    case BlobRef_Encoding.ARROW:
      return create(ValueSchema, { kind: { case: "arrow", value: view } });
    default:
      return create(ValueSchema, { kind: { case: "raw", value: view } });
  }
}
