import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import {
  EncodedValue,
  isArrowTable,
  parseJsonWithBytes,
  stringifyJson,
  toLive,
} from "@conductor/sdk/protocol";
import { type Job, Queue, Worker } from "bullmq";
import type {
  BlueprintSource,
  Conductor,
  ExecutionHandle,
  Executions,
  PreparedBlueprint,
  RunOptions,
} from "../conductor.js";
import type { ExecutionEvent, ExecutionListener } from "../scheduler/execution-events.js";
import type { ExecutionResult } from "../scheduler/execution-types.js";
import { createMemoryStore } from "../store/memory-store.js";
import {
  EXECUTION_CANCEL_CHANNEL,
  EXECUTIONS_QUEUE,
  executionEventsKey,
  executionJobId,
  executionOwnerKey,
  QUEUE_PREFIX,
} from "./keys.js";
import { connectRedis } from "./redis-connection.js";

/** Options of {@link startSharedExecutions}. */
export interface SharedExecutionsOptions {
  /** The Redis URL every scheduler shares. */
  redis: string;
  /** This scheduler's conductor: it runs the executions it takes, each in its own journal. */
  conductor: Conductor;
  /**
   * How many shared executions this scheduler runs at once (it takes no more from the queue meanwhile). 0: it only
   * sends starts and follows them (`conductor run --queue`). Default 16.
   */
  capacity?: number;
  /** How long an execution's event stream stays in Redis after it ended. Default 1 day. */
  keepMs?: number;
  onNotice?: (message: string) => void;
}

/** Shared executions as one scheduler sees them. */
export interface SharedExecutions {
  /** This scheduler's id in Redis (the owner recorded for the executions it takes). */
  readonly schedulerId: string;
  /**
   * The conductor to give the API and the webhooks: a blueprint it prepares starts through the queue (any
   * scheduler with room takes it), and Get/Watch/Cancel of an execution started through it but run elsewhere are
   * answered from its event stream. Everything else is the local conductor's.
   */
  readonly conductor: Conductor;
  /**
   * Call when this scheduler resumed an execution from its journal (it ran it before it stopped): if it is a
   * shared one, its events go on to its stream from where they stopped, so the scheduler that received its start
   * sees it end.
   */
  adopted(executionId: string): Promise<void>;
  close(): Promise<void>;
}

/** What an execution's start carries through the queue. */
interface ExecutionJob {
  executionId: string;
  /** A blueprint of the project by id (every scheduler has the project), or a document sent inline (JSON). */
  blueprintId?: string;
  document?: string;
  /** The inputs as JSON text (bytes as `{"$bytes": ...}`, big integers as digits). */
  inputs: string;
  traceparent?: string;
  /** Run every node, ignoring the result cache (`RunOptions.noCache`). */
  noCache?: boolean;
  /** The scheduler that received the start. */
  origin: string;
}

/** What a start's job ends with: the scheduler that ran it, or the one that had taken it before (re-delivered). */
interface ExecutionJobOutcome {
  ranBy?: string;
  takenBefore?: string;
  status?: string;
}

/**
 * Shares executions between schedulers on one Redis (docs/distributed.md, "Shared executions"). A start received
 * by any of them (API, webhook, `conductor run --queue`) is a job on the BullMQ queue `executions`; a scheduler with
 * room takes it (BullMQ's worker concurrency is its capacity), claims it (`SET conductor:exec:<id>:owner NX`, so a
 * start re-delivered after its scheduler died is never run a second time: that scheduler resumes it from its own
 * journal when it comes back, as any execution), runs it in its own journal, and writes every event to the stream
 * `conductor:exec:<id>:events`. The scheduler that received the start follows that stream: its Get, Watch and the
 * result of a webhook that waits come from there.
 */
export async function startSharedExecutions(options: SharedExecutionsOptions): Promise<SharedExecutions> {
  const local = options.conductor;
  const schedulerId = `${process.pid}-${randomUUID().slice(0, 8)}`;
  const keepMs = options.keepMs ?? 86_400_000;
  const notice = options.onNotice ?? (() => {});
  const commands = connectRedis(options.redis, `conductor-executions-${schedulerId}`);
  const subscriber = connectRedis(options.redis, `conductor-executions-${schedulerId}-cancel`);
  const queue = new Queue<ExecutionJob, ExecutionJobOutcome>(EXECUTIONS_QUEUE, {
    connection: commands,
    prefix: QUEUE_PREFIX,
  });
  queue.on("error", () => {});
  const follower = createFollower(options.redis, schedulerId);

  // Cancellations reach the scheduler that runs the execution, wherever they were asked for.
  await subscriber.subscribe(EXECUTION_CANCEL_CHANNEL);
  subscriber.on("message", (_channel: string, text: string) => {
    try {
      const { executionId, reason } = JSON.parse(text) as { executionId: string; reason: string };
      local.executions.cancel(executionId, reason);
    } catch {
      // Not ours to read.
    }
  });

  const publish = (event: ExecutionEvent) => {
    const key = executionEventsKey(event.executionId);
    commands
      .multi()
      .xadd(key, "*", "e", eventText(event))
      .pexpire(key, keepMs)
      .exec()
      .catch(() => {});
  };

  const run = async (job: Job<ExecutionJob, ExecutionJobOutcome>): Promise<ExecutionJobOutcome> => {
    const data = job.data;
    const ownerKey = executionOwnerKey(data.executionId);
    const claimed = await commands.set(ownerKey, schedulerId, "PX", keepMs, "NX");
    if (claimed !== "OK") return { takenBefore: (await commands.get(ownerKey)) ?? "unknown" };
    let handle: ExecutionHandle;
    try {
      const prepared =
        data.blueprintId !== undefined
          ? await local.prepare(await blueprintPath(local, data.blueprintId))
          : await local.prepare(parseJsonWithBytes(data.document ?? "{}") as BlueprintSource);
      handle = prepared.start(parseJsonWithBytes(data.inputs) as Record<string, unknown>, {
        executionId: data.executionId,
        onEvent: publish,
        trigger: "api",
        ...(data.traceparent === undefined ? {} : { traceparent: data.traceparent }),
        ...(data.noCache === true ? { noCache: true } : {}),
      });
    } catch (error) {
      // Nothing ran: the receiving scheduler learns why from the stream, as from a run that failed at once.
      const message = `scheduler ${schedulerId} took execution "${data.executionId}" but cannot start it: ${(error as Error).message}`;
      notice(message);
      for (const event of refusedEvents(data, message)) publish(event);
      return { ranBy: schedulerId, status: "failed" };
    }
    const result = await handle.result;
    return { ranBy: schedulerId, status: result.status };
  };

  const capacity = options.capacity ?? 16;
  const blocking =
    capacity > 0 ? connectRedis(options.redis, `conductor-executions-${schedulerId}-take`) : undefined;
  const worker =
    blocking === undefined
      ? undefined
      : new Worker<ExecutionJob, ExecutionJobOutcome>(EXECUTIONS_QUEUE, run, {
          connection: blocking,
          prefix: QUEUE_PREFIX,
          concurrency: capacity,
          // A scheduler that dies holding starts: they are re-delivered, and the claim stops them running twice.
          maxStalledCount: 10,
          autorun: true,
        });
  worker?.on("error", () => {});

  const start = (
    source: BlueprintSource,
    prepared: PreparedBlueprint,
    inputs: Record<string, unknown>,
    runOptions: RunOptions,
  ): ExecutionHandle => {
    const executionId = runOptions.executionId ?? randomUUID();
    const job: ExecutionJob = {
      executionId,
      ...(typeof source === "string"
        ? { blueprintId: prepared.graph.id }
        : {
            document: stringifyJson("document" in source && "source" in source ? source.document : source),
          }),
      inputs: stringifyJson(plainValue(inputs)),
      origin: schedulerId,
      ...(runOptions.traceparent === undefined ? {} : { traceparent: runOptions.traceparent }),
      ...(runOptions.noCache === true ? { noCache: true } : {}),
    };
    const followed = follower.follow(executionId, prepared.graph.id);
    if (runOptions.onEvent !== undefined) followed.listen(runOptions.onEvent);
    const cancel = (reason = "cancelled") => void cancelShared(executionId, reason);
    runOptions.signal?.addEventListener("abort", () => cancel("the run was aborted"), { once: true });
    queue
      .add("start", job, {
        jobId: executionJobId(executionId),
        removeOnComplete: { age: Math.round(keepMs / 1000) },
        removeOnFail: { age: Math.round(keepMs / 1000) },
      })
      .catch((error: Error) => followed.fail(`cannot queue execution "${executionId}": ${error.message}`));
    return {
      executionId,
      result: followed.result,
      subscribe: (listener) => followed.listen(listener),
      cancel,
    };
  };

  const cancelShared = async (executionId: string, reason: string) => {
    // Not taken yet: removed from the queue, and its stream says it was cancelled.
    const removed = await queue.remove(executionJobId(executionId)).catch(() => 0);
    if (
      removed === 1 &&
      (await commands.set(executionOwnerKey(executionId), "cancelled", "PX", keepMs, "NX")) === "OK"
    ) {
      for (const event of cancelledEvents(executionId, follower.blueprintOf(executionId) ?? "", reason))
        publish(event);
      return;
    }
    await commands.publish(EXECUTION_CANCEL_CHANNEL, JSON.stringify({ executionId, reason }));
  };

  const shared = new Proxy(local, {
    get(target, property) {
      if (property === "prepare") {
        return async (source: BlueprintSource): Promise<PreparedBlueprint> => {
          const prepared = await target.prepare(source);
          return {
            graph: prepared.graph,
            start: (inputs = {}, runOptions = {}) => start(source, prepared, inputs, runOptions),
            run: (inputs = {}, runOptions = {}) => start(source, prepared, inputs, runOptions).result,
          };
        };
      }
      if (property === "executions") return sharedExecutions(target.executions);
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });

  const sharedExecutions = (executions: Executions): Executions => ({
    list: (filter) => executions.list(filter),
    get: (executionId) => executions.get(executionId) ?? follower.store.get(executionId),
    subscribe: (executionId, listener, subscribeOptions) =>
      executions.get(executionId) === undefined && follower.knows(executionId)
        ? follower.subscribe(executionId, listener, subscribeOptions?.afterSeq ?? 0)
        : executions.subscribe(executionId, listener, subscribeOptions),
    cancel: (executionId, reason) => {
      if (executions.cancel(executionId, reason)) return true;
      if (!follower.running(executionId)) return false;
      void cancelShared(executionId, reason ?? "cancelled");
      return true;
    },
  });

  notice(
    capacity > 0
      ? `shares executions through Redis as scheduler ${schedulerId}: takes up to ${capacity} at once from the queue "${EXECUTIONS_QUEUE}"`
      : `sends executions to the queue "${EXECUTIONS_QUEUE}" in Redis for the schedulers sharing it`,
  );

  const adopted = async (executionId: string) => {
    const key = executionEventsKey(executionId);
    const [last] = await commands.xrevrange(key, "+", "-", "COUNT", 1);
    if (last === undefined) return; // not a shared execution, or its stream expired
    const fields = last[1];
    const lastSeq =
      (parseJsonWithBytes(fields[fields.indexOf("e") + 1] ?? "{}") as { seq?: number }).seq ?? 0;
    await commands.set(executionOwnerKey(executionId), schedulerId, "PX", keepMs);
    const stop = local.executions.subscribe(
      executionId,
      (event) => {
        if (event.seq <= lastSeq) return;
        publish(event);
        if (event.type === "execution.finished") queueMicrotask(() => stop());
      },
      { afterSeq: lastSeq },
    );
  };

  return {
    schedulerId,
    conductor: shared,
    adopted,
    async close() {
      // Not waiting for the executions it runs: they are in its journal, and it resumes them when it starts again
      // (their starts, re-delivered meanwhile, find its claim and run nowhere else).
      await worker?.close(true).catch(() => {});
      await queue.close().catch(() => {});
      follower.close();
      blocking?.disconnect();
      subscriber.disconnect();
      commands.disconnect();
    },
  };
}

/** The absolute path of the project's blueprint `id`, for a start that names it. */
async function blueprintPath(conductor: Conductor, id: string): Promise<string> {
  const entries = await conductor.blueprints();
  const entry = entries.find((candidate) => candidate.id === id);
  if (entry === undefined) {
    throw new Error(
      `its project has no blueprint "${id}" (its blueprints: ${entries.map((e) => `"${e.id}"`).join(", ") || "none"}); every scheduler sharing the queue needs the same project`,
    );
  }
  return resolve(conductor.project.dir, entry.path);
}

/** One execution followed from its stream. */
interface Followed {
  result: Promise<ExecutionResult>;
  listen(listener: ExecutionListener): () => void;
  fail(message: string): void;
}

/**
 * Follows the event streams of the executions this scheduler sent to the queue: one blocking `XREAD` over all of
 * them (a new one interrupts it with `CLIENT UNBLOCK`), each event kept in a memory store (for Get and a late
 * Watch) and passed to the execution's listeners; `execution.finished` settles its result.
 */
function createFollower(url: string, schedulerId: string) {
  const reader = connectRedis(url, `conductor-executions-${schedulerId}-follow`);
  const commands = connectRedis(url, `conductor-executions-${schedulerId}-unblock`);
  const store = createMemoryStore({ maxExecutions: 10_000 });
  const followed = new Map<
    string,
    {
      lastId: string;
      blueprintId: string;
      listeners: Set<ExecutionListener>;
      settle: (result: ExecutionResult) => void;
      startedAt: number;
    }
  >();
  let readerId: number | undefined;
  let closed = false;
  reader.on("ready", () => {
    readerId = undefined;
  });

  const deliver = (executionId: string, event: ExecutionEvent) => {
    const entry = followed.get(executionId);
    // A resumed start (its scheduler restarted) goes on with the same record, as in the scheduler's own journal.
    const resumedStart = event.type === "execution.started" && event.resumed === true;
    if (!resumedStart || store.get(executionId) === undefined) store.append(event);
    if (entry === undefined) return;
    for (const listener of entry.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own.
      }
    }
    if (event.type === "execution.finished") {
      followed.delete(executionId);
      entry.settle({
        executionId,
        blueprintId: entry.blueprintId,
        status: event.status,
        outputs: event.outputs,
        ...(event.failure === undefined ? {} : { failure: event.failure }),
        handledFailures: [],
        compensations: event.compensations ?? [],
        startedAt: entry.startedAt,
        durationMs: event.durationMs,
        nodes: {},
      });
    }
  };

  const loop = async () => {
    while (!closed) {
      if (followed.size === 0) {
        await new Promise<void>((wake) => {
          wakeIdle = wake;
        });
        continue;
      }
      readerId ??= Number(await reader.client("ID"));
      const ids = [...followed.keys()];
      try {
        const answer = (await reader.xread(
          "COUNT",
          500,
          "BLOCK",
          2_000,
          "STREAMS",
          ...ids.map(executionEventsKey),
          ...ids.map((id) => followed.get(id)!.lastId),
        )) as [string, [string, string[]][]][] | null;
        for (const [key, entries] of answer ?? []) {
          const executionId = ids.find((id) => executionEventsKey(id) === key)!;
          for (const [entryId, fields] of entries) {
            const entry = followed.get(executionId);
            if (entry !== undefined) entry.lastId = entryId;
            const text = fields[fields.indexOf("e") + 1];
            if (text !== undefined) deliver(executionId, parseJsonWithBytes(text) as ExecutionEvent);
          }
        }
      } catch {
        // Unblocked to read a new stream too, or Redis went away (the connection comes back by itself).
        if (!closed) await new Promise((wake) => setTimeout(wake, 20));
      }
    }
  };
  let wakeIdle: (() => void) | undefined;
  void loop();

  return {
    store,
    follow(executionId: string, blueprintId: string): Followed {
      let settle: (result: ExecutionResult) => void = () => {};
      const result = new Promise<ExecutionResult>((done) => {
        settle = done;
      });
      const entry = {
        lastId: "0",
        blueprintId,
        listeners: new Set<ExecutionListener>(),
        settle,
        startedAt: Date.now(),
      };
      followed.set(executionId, entry);
      // The blocking read goes on with the streams it had: interrupt it so that it reads this one too.
      const wake = wakeIdle;
      wakeIdle = undefined;
      wake?.();
      if (readerId !== undefined) commands.client("UNBLOCK", readerId, "ERROR").catch(() => {});
      return {
        result,
        listen: (listener) => {
          entry.listeners.add(listener);
          return () => entry.listeners.delete(listener);
        },
        fail: (message) => {
          for (const event of refusedEvents({ executionId, blueprintId }, message))
            deliver(executionId, event);
        },
      };
    },
    subscribe(executionId: string, listener: ExecutionListener, afterSeq: number): () => void {
      for (const event of store.events(executionId, afterSeq)) listener(event);
      const entry = followed.get(executionId);
      if (entry === undefined) return () => {};
      entry.listeners.add(listener);
      return () => entry.listeners.delete(listener);
    },
    running: (executionId: string) => followed.has(executionId),
    /** Whether this scheduler follows the execution, or followed it until it ended. */
    knows: (executionId: string) => followed.has(executionId) || store.get(executionId) !== undefined,
    blueprintOf: (executionId: string) => followed.get(executionId)?.blueprintId,
    close() {
      closed = true;
      wakeIdle?.();
      reader.disconnect();
      commands.disconnect();
    },
  };
}

/** The events of an execution that could not start: started, then failed, with `message`. */
function refusedEvents(
  data: { executionId: string; blueprintId?: string },
  message: string,
): ExecutionEvent[] {
  const at = Date.now();
  const base = { executionId: data.executionId, at };
  return [
    { ...base, seq: 1, type: "execution.started", blueprintId: data.blueprintId ?? "(inline)", inputs: {} },
    {
      ...base,
      seq: 2,
      type: "execution.finished",
      status: "failed",
      outputs: {},
      failure: { nodeId: "", message, type: "execution.unstarted", retryable: true },
      durationMs: 0,
    },
  ];
}

/** The events of an execution cancelled while its start waited in the queue. */
function cancelledEvents(executionId: string, blueprintId: string, reason: string): ExecutionEvent[] {
  const at = Date.now();
  return [
    { executionId, at, seq: 1, type: "execution.started", blueprintId, inputs: {} },
    {
      executionId,
      at,
      seq: 2,
      type: "execution.finished",
      status: "cancelled",
      outputs: {},
      failure: { nodeId: "", message: reason, type: "cancelled", retryable: false },
      durationMs: 0,
    },
  ];
}

/** The most bytes of a value an event carries in its stream; a larger one is described instead (see below). */
const MAX_EVENT_VALUE_BYTES = 1024 * 1024;

/** An event as JSON text for its stream. */
function eventText(event: ExecutionEvent): string {
  return stringifyJson(plainValue(event));
}

/**
 * A value as JSON can carry it: values still in wire form are decoded when small; a large one, or an Arrow table,
 * is replaced by `{"$omitted": "<what>"}`, because its bytes stay with the scheduler that ran the execution (read
 * them from that scheduler's journal).
 */
function plainValue(value: unknown): unknown {
  if (value instanceof EncodedValue) {
    if (value.byteLength > MAX_EVENT_VALUE_BYTES || value.wire.kind.case === "arrow") {
      return { $omitted: `a ${value.wire.kind.case ?? "empty"} value of ${value.byteLength} bytes` };
    }
    return plainValue(toLive(value));
  }
  if (isArrowTable(value)) return { $omitted: `an Arrow table of ${value.numRows} rows` };
  if (value instanceof Uint8Array) {
    return value.byteLength > MAX_EVENT_VALUE_BYTES
      ? { $omitted: `bytes, ${value.byteLength} of them` }
      : value;
  }
  if (Array.isArray(value)) return value.map(plainValue);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = plainValue(item);
    return out;
  }
  return value;
}
