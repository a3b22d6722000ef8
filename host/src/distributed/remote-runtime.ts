/**
 * The scheduler's side of distributed execution: the Dispatcher (dispatch, live events, the sweep, cancellation,
 * the queue statistics of the metrics) and the RemoteRuntime each remote runtime is on it. Over 500 lines because
 * the Dispatcher's parts share its state of pending jobs; it is the part to move to a file of its own next.
 */
import { randomUUID } from "node:crypto";
import type { InvocationControl } from "@conductor/sdk";
import {
  dispatchSessionResponse,
  type FailureInfo,
  FEATURES,
  type InvocationRequest,
  type InvocationSink,
  type NodeType,
  observeSink,
  type RuntimeDescription,
  receiverFeatures,
  SessionRequestWriter,
  ValueError,
} from "@conductor/sdk/protocol";
import { Job, Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { ConfigDiagnostic } from "../blueprint/validate-blueprint.js";
import { ConductorError } from "../errors.js";
import { checkConfigAgainstSchema } from "../runtime/config-schema-check.js";
import type { RuntimeConnection, RuntimeHealth } from "../runtime/runtime-connection.js";
import type { BlobStore } from "./blob-store.js";
import { BlobTransfer } from "./blob-transfer.js";
import {
  type CancelMessage,
  type DistributedStats,
  decodeLiveEvent,
  type InvocationJob,
  type InvocationOutcome,
} from "./job-data.js";
import {
  CANCEL_CHANNEL,
  collectedKey,
  eventsChannel,
  executionJobsKey,
  jobId,
  labelSubsets,
  QUEUE_PREFIX,
  queueName,
  WORKER_LABELS_FEATURE,
} from "./keys.js";
import { connectRedis, describeRedis } from "./redis-connection.js";
import { addJob, type DispatchKeys } from "./redis-scripts.js";
import { advertisedRuntime, type ListedWorker, listWorkers, workersFor } from "./worker-registry.js";

/** Distributed execution: where Redis is, and which of the project's runtimes run on workers. */
export interface DistributedOptions {
  /** The Redis URL, e.g. redis://127.0.0.1:6379. */
  redis: string;
  /** The project's runtimes whose nodes run on workers (`conductor worker`) instead of child processes here. */
  remoteRuntimes: readonly string[];
  /** How long to wait for a worker of a remote runtime to advertise its node types. Default 20 s. */
  waitForWorkersMs?: number;
  /**
   * Values up to this many bytes travel inline in a job; larger ones go through the blob store (Redis, chunked:
   * docs/distributed.md, "Values between machines"). Default 1 MiB.
   */
  inlineLimit?: number;
  /** How long a job and its result stay in Redis after it ended, for a scheduler that restarts. Default 1 day. */
  keepResultsMs?: number;
  /**
   * Where values larger than `inlineLimit` go: default Redis itself, chunked (distributed/redis-blob-store.ts);
   * give another {@link BlobStore} (an S3-compatible one) to every scheduler and worker alike.
   */
  blobStore?: BlobStore;
  /** Receives notices (a job waiting for a worker that is not there, Redis lost and back). */
  onNotice?: (message: string) => void;
}

/** An invocation sent to a queue, until its last event was delivered. */
interface Pending {
  jobId: string;
  executionId: string;
  /** Where the events of the job go: the sink, or, for a job re-attached from its middle, one shifting steps. */
  route: InvocationSink;
  queue: Queue<InvocationJob>;
  sink: InvocationSink;
  lastStep: number;
  /** How many of the job's events were delivered to the sink (live or from its result). */
  delivered: number;
  /** The delivery of the job those events came from (a job re-delivered after its worker was lost starts over). */
  run: number;
  ended: boolean;
  addedAt: number;
  /** Sweeps that found the job completed without a readable result. */
  unreadable: number;
  /** Checked by the next sweep whatever its age: a live event may have been missed (a gap, a reconnect). */
  suspect: boolean;
  cancelTimer?: NodeJS.Timeout;
  /** Until a worker takes the job: then the node says why it waits, if no live worker serves its queue. */
  waitTimer?: NodeJS.Timeout;
  /** The first node, for messages. */
  nodeId: string;
}

/** How often the dispatcher checks the jobs it waits for, in case an event was missed (a Redis restart). */
const SWEEP_MS = 3_000;

/** How long a job may wait untaken before the scheduler looks whether any live worker serves its queue. */
const WAITING_CHECK_MS = 1_000;

/**
 * The scheduler's side of distributed execution: the queues it adds invocations to, the events of the jobs it
 * waits for (live on its own channel, and all of them with the job's completion), and cancellations. One per host;
 * each remote runtime is a {@link RemoteRuntime} on it.
 */
export class Dispatcher {
  readonly id = randomUUID();
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly queues = new Map<string, Queue<InvocationJob>>();
  private readonly pending = new Map<string, Pending>();
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;
  private workersRead: Promise<ListedWorker[]> | undefined;
  private ready: Promise<void>;
  /** Large values: inputs put in the blob store, outputs fetched from it (distributed/blob-transfer.ts). */
  readonly blobs: BlobTransfer;

  /** `projectDir`: where blobs fetched from the store are written (under its `.conductor/tmp/`). */
  constructor(
    readonly options: DistributedOptions,
    projectDir: string = process.cwd(),
  ) {
    this.blobs = new BlobTransfer({
      redis: options.redis,
      name: `conductor-scheduler-${this.id}`,
      projectDir,
      ...(options.inlineLimit === undefined ? {} : { inlineLimit: options.inlineLimit }),
      ...(options.keepResultsMs === undefined ? {} : { expireMs: options.keepResultsMs }),
      ...(options.blobStore === undefined ? {} : { store: options.blobStore }),
    });
    this.commands = connectRedis(options.redis, `conductor-scheduler-${this.id}`);
    this.subscriber = connectRedis(options.redis, `conductor-scheduler-${this.id}-events`);
    this.subscriber.on("messageBuffer", (_channel: Buffer, message: Buffer) => this.onLive(message));
    this.ready = this.subscriber.subscribe(eventsChannel(this.id)).then(() => {});
    // Live events published while the subscriber was reconnecting are lost: each job waited for is checked.
    let subscriberLost = false;
    this.subscriber.on("close", () => {
      subscriberLost = !this.closed;
    });
    this.subscriber.on("ready", () => {
      if (!subscriberLost) return;
      subscriberLost = false;
      for (const pending of this.pending.values()) pending.suspect = true;
      void this.sweep();
    });
    let lost = false;
    this.commands.on("close", () => {
      if (this.closed || lost) return;
      lost = true;
      options.onNotice?.(
        `lost Redis at ${describeRedis(options.redis)}; remote nodes wait until it is back (reconnecting by itself)`,
      );
    });
    this.commands.on("ready", () => {
      if (!lost) return;
      lost = false;
      options.onNotice?.(`reached Redis at ${describeRedis(options.redis)} again`);
      for (const pending of this.pending.values()) pending.suspect = true;
      void this.sweep();
    });
    this.sweepTimer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  get redis(): Redis {
    return this.commands;
  }

  /** Waits until a worker advertised runtime `name`, up to `waitForWorkersMs`. */
  async connect(name: string): Promise<RemoteRuntime> {
    await this.ready;
    const deadline = Date.now() + (this.options.waitForWorkersMs ?? 20_000);
    for (;;) {
      const advertised = await advertisedRuntime(this.commands, name);
      if (advertised !== undefined)
        return new RemoteRuntime(this, advertised.description, advertised.nodeTypes);
      if (Date.now() >= deadline || this.closed) {
        throw new ConductorError(
          "runtime_start_failed",
          `runtime "${name}" runs on workers, and no worker serving it has connected to Redis at ${describeRedis(this.options.redis)}; start one with \`conductor worker --redis <url> --runtimes ${name}\``,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * The queue `name`, on the scheduler's command connection (so that the dispatch script and BullMQ's add are sent
   * in order on one connection). No `QueueEvents` reader: a job's end comes as its last live event, on this
   * scheduler's own channel, and the sweep reads the job itself when a live event was missed; reading the queue's
   * event stream made every scheduler read every completion of the queue, with its result.
   */
  private queue(name: string): Queue<InvocationJob> {
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = new Queue<InvocationJob>(name, { connection: this.commands, prefix: QUEUE_PREFIX });
      queue.on("error", () => {});
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Sends one invocation to the queue of `runtime` (and `labels`). */
  execute(
    runtime: RemoteRuntime,
    request: InvocationRequest,
    given: InvocationSink,
    labels: readonly string[],
  ): InvocationControl {
    const first = request.steps[0]!;
    // Outputs that came back as blobs of the store are fetched into a local file before their event goes on.
    const sink = this.blobs.incomingSink(
      given,
      request.executionId,
      request.steps.map((step) => step.nodeId),
    );
    const name = queueName(runtime.name, labels);
    const queue = this.queue(name);
    const id = jobId(request.executionId, first.nodeId, first.attempt);
    const pending: Pending = {
      jobId: id,
      executionId: request.executionId,
      route: sink,
      queue,
      sink,
      lastStep: request.steps.length - 1,
      delivered: 0,
      run: 0,
      ended: false,
      addedAt: Date.now(),
      unreadable: 0,
      suspect: false,
      nodeId: first.nodeId,
    };
    pending.sink = observeSink(sink, {
      onEnd: (step, end) => {
        if (end !== "completed" || step === pending.lastStep) this.end(pending, end === "completed");
      },
    });
    pending.route = pending.sink;
    const control = { cancelled: undefined as string | undefined, sharing: false };
    const send = (ready: InvocationRequest) => {
      let data: InvocationJob;
      try {
        data = this.jobData(runtime, ready);
      } catch (error) {
        sink.rejected(valueFailure(error));
        return;
      }
      void this.dispatch(pending, data, request, labels).catch((error: Error) => {
        if (!pending.ended)
          pending.sink.rejected({
            message: `cannot queue node "${first.nodeId}" on runtime "${runtime.name}": ${error.message}`,
            type: "runtime.lost",
            retryable: true,
          });
      });
    };
    // Inputs larger than a job takes are put in the blob store first (streamed); the job carries their references.
    let shared: InvocationRequest | Promise<InvocationRequest>;
    try {
      shared = this.blobs.outgoingRequest(request);
    } catch (error) {
      sink.rejected(valueFailure(error));
      return { cancel: () => {} };
    }
    if (shared instanceof Promise) {
      control.sharing = true;
      shared.then(
        (ready) => {
          control.sharing = false;
          if (control.cancelled === undefined) send(ready);
          else sink.cancelled(0, control.cancelled);
        },
        (error: Error) => {
          control.sharing = false;
          sink.rejected(valueFailure(error));
        },
      );
    } else send(shared);
    return {
      cancel: (reason) => {
        if (control.cancelled !== undefined || pending.ended) return;
        control.cancelled = reason;
        // Not sent yet: its inputs are still going to the blob store, and it is cancelled once they are there.
        if (control.sharing) return;
        void this.cancel(pending, reason);
      },
    };
  }

  /** The job of an invocation whose inputs are inline or blobs of the store; throws a ValueError. */
  private jobData(runtime: RemoteRuntime, request: InvocationRequest): InvocationJob {
    const writer = new SessionRequestWriter(
      { inlineLimit: this.blobs.inlineLimit },
      // Every value is inline or a blob of the store (see blobs.outgoingRequest), which the worker fetches.
      receiverFeatures(
        runtime.name,
        [...runtime.description.features, FEATURES.blob],
        this.blobs.inlineLimit,
      ),
    );
    writer.execute({ ...request, invocationId: 0 });
    return {
      runtime: runtime.name,
      request: Buffer.from(writer.finish()).toString("base64"),
      replyTo: eventsChannel(this.id),
      nodes: request.steps.map((step) => step.nodeId),
    };
  }

  /**
   * Adds the job, after the dispatch script (redis-scripts.ts) in the same write: one round trip. A scheduler that
   * restarted runs the nodes that were running again: the job that ran them may have ended while it was down (its
   * result is kept until collected), or still run on a worker. The script finds such a job and then keeps BullMQ's
   * add from adding the new one; its events are collected, from the step of this node on, and nothing runs a second
   * time. A job whose events were all delivered once (a failure that is being retried) is never collected again.
   */
  private async dispatch(
    pending: Pending,
    data: InvocationJob,
    request: InvocationRequest,
    labels: readonly string[],
  ): Promise<void> {
    const first = request.steps[0]!;
    const nodes = request.steps.map((step) => step.nodeId);
    const keys: DispatchKeys = {
      jobsKey: executionJobsKey(request.executionId),
      collectedKey: collectedKey(request.executionId),
      keepSeconds: Math.round((this.options.keepResultsMs ?? 86_400_000) / 1000),
      nodes,
    };
    const job = {
      name: "invoke",
      data,
      opts: {
        attempts: 1,
        removeOnComplete: { age: keys.keepSeconds },
        removeOnFail: { age: keys.keepSeconds },
      },
    };
    this.pending.set(pending.jobId, pending);
    const earlier = await addJob(this.commands, pending.queue, pending.jobId, job, keys);
    if (earlier !== null && !(await this.followEarlier(pending, earlier, first.nodeId, nodes))) {
      // The earlier job cannot give this node's events: the new job is added after all.
      await addJob(this.commands, pending.queue, pending.jobId, job, { ...keys, replace: true });
    }
    if (pending.ended || pending.delivered > 0) return;
    pending.waitTimer = setTimeout(
      () => void this.checkWaiting(pending, data.runtime, labels),
      WAITING_CHECK_MS,
    );
    pending.waitTimer.unref();
  }

  /**
   * Follows the earlier job `previousId` of the node instead of adding a new one, when it ran the same steps from
   * this node on and is queued, running or completed. False when it cannot give this node's events.
   */
  private async followEarlier(
    pending: Pending,
    previousId: string,
    nodeId: string,
    nodes: readonly string[],
  ): Promise<boolean> {
    const previous = await Job.fromId<InvocationJob, InvocationOutcome>(pending.queue, previousId);
    const offset = previous?.data?.nodes?.indexOf(nodeId) ?? -1;
    if (previous === undefined || offset < 0 || !sameList(previous.data.nodes.slice(offset), nodes))
      return false;
    const state = await previous.getState();
    if (state !== "completed" && state !== "active" && state !== "waiting" && state !== "prioritized")
      return false;
    if (this.pending.get(pending.jobId) === pending) this.pending.delete(pending.jobId);
    pending.jobId = previousId;
    pending.route = offset === 0 ? pending.sink : shiftSteps(pending.sink, offset);
    if (state === "completed") this.collect(pending, parseOutcome(previous.returnvalue));
    else this.pending.set(previousId, pending);
    return true;
  }

  /**
   * The live workers serving a runtime with labels, read from the registry. Dispatches at the same time share one
   * read (a burst of them reads it once); a dispatch after it reads it again, so a worker just gone is not counted.
   */
  private async workersServing(runtime: string, labels: readonly string[]): Promise<ListedWorker[]> {
    if (this.workersRead === undefined) {
      const read = listWorkers(this.commands);
      this.workersRead = read;
      const clear = () => {
        if (this.workersRead === read) this.workersRead = undefined;
      };
      read.then(clear, clear);
    }
    return workersFor(await this.workersRead, runtime, labels);
  }

  /**
   * A job no worker took within {@link WAITING_CHECK_MS} says why when no live worker serves its queue. Checked
   * then rather than at each dispatch, because reading and parsing the registry for every job cost more than the
   * rest of the dispatch, and a job taken at once needs no reason.
   */
  private async checkWaiting(pending: Pending, runtime: string, labels: readonly string[]): Promise<void> {
    if (pending.ended || pending.delivered > 0) return;
    const workers = await this.workersServing(runtime, labels).catch(() => undefined);
    if (workers === undefined || workers.length > 0 || pending.ended || pending.delivered > 0) return;
    const message = `waiting for a worker: no live worker serves runtime "${runtime}"${labels.length > 0 ? ` with labels ${labels.join(", ")}` : ""}; the node runs when one connects`;
    pending.sink.log(0, "warn", message, { queue: pending.queue.name });
    this.options.onNotice?.(`node "${pending.nodeId}" of execution "${pending.executionId}" is ${message}`);
  }

  /** A live event (job-data.ts: a batch of a job's events) in order; a gap waits for the sweep to read the job. */
  private onLive(message: Buffer): void {
    const event = decodeLiveEvent(message);
    if (event === undefined) return;
    const pending = this.pending.get(event.jobId);
    if (pending === undefined || pending.ended) return;
    this.follow(pending, event.run);
    if (event.run !== pending.run) return;
    if (event.seq !== pending.delivered) {
      if (event.seq > pending.delivered) pending.suspect = true;
      return;
    }
    pending.delivered++;
    dispatchSessionResponse(event.response, () => pending.route);
  }

  /** Delivers the events of a job's result not delivered yet. */
  private collect(pending: Pending, outcome: InvocationOutcome | undefined): void {
    if (pending.ended) return;
    if (outcome === undefined) {
      this.lost(pending, "its worker gave a result no scheduler can read");
      return;
    }
    this.follow(pending, outcome.run);
    while (pending.delivered < outcome.events.length && !pending.ended) {
      const bytes = Buffer.from(outcome.events[pending.delivered]!, "base64");
      pending.delivered++;
      dispatchSessionResponse(bytes, () => pending.route);
    }
    if (!pending.ended) this.lost(pending, "its result ends before the node did");
  }

  /**
   * Events of a later delivery of the job (its first worker was lost) start over: the node's events are those of
   * the run that ends it. Events of an earlier delivery are dropped.
   */
  private follow(pending: Pending, run: number | undefined): void {
    const delivery = run ?? 1;
    if (delivery <= pending.run) return;
    pending.run = delivery;
    pending.delivered = 0;
  }

  /** The job failed outside the node (stalled too often, or its worker broke): a retryable runtime.lost. */
  private lost(pending: Pending, reason: string): void {
    if (pending.ended) return;
    const failure: FailureInfo = {
      message: `the worker running job ${pending.jobId} was lost: ${reason}`,
      type: "runtime.lost",
      retryable: true,
    };
    pending.sink.failed(0, failure, 0);
  }

  /**
   * The job's last event was delivered. One that ended in a failure or a cancellation is recorded as collected, so
   * that the retry of its node is sent as a new job rather than given the same failure again. A completed one is
   * not: no scheduler sends a completed node again, except one that restarted before its journal recorded the
   * completion, and that one should collect it rather than run the node again.
   */
  private end(pending: Pending, completed: boolean): void {
    pending.ended = true;
    clearTimeout(pending.cancelTimer);
    clearTimeout(pending.waitTimer);
    if (this.pending.get(pending.jobId) === pending) this.pending.delete(pending.jobId);
    if (completed) return;
    const key = collectedKey(pending.executionId);
    this.commands
      .pipeline()
      .sadd(key, pending.jobId)
      .expire(key, Math.round((this.options.keepResultsMs ?? 86_400_000) / 1000))
      .exec()
      .catch(() => {});
  }

  private async cancel(pending: Pending, reason: string): Promise<void> {
    // Not taken yet: removed from its queue, cancelled here. Taken: its worker cancels it and reports the end.
    const removed = await pending.queue.remove(pending.jobId).catch(() => 0);
    if (removed === 1) {
      if (!pending.ended) pending.sink.cancelled(0, reason);
      return;
    }
    const graceMs = 2_000;
    const message: CancelMessage = { j: pending.jobId, r: reason, g: graceMs };
    await this.commands.publish(CANCEL_CHANNEL, JSON.stringify(message)).catch(() => {});
    pending.cancelTimer = setTimeout(() => {
      if (!pending.ended)
        pending.sink.cancelled(0, `${reason} (no worker confirmed it within ${graceMs * 2} ms)`);
    }, graceMs * 2);
    pending.cancelTimer.unref();
  }

  /** Checks each job waited for a while: ended ones are collected, vanished ones reported lost. */
  private async sweep(): Promise<void> {
    if (this.closed || this.commands.status !== "ready") return;
    const now = Date.now();
    for (const pending of [...this.pending.values()]) {
      if (pending.ended || (now - pending.addedAt < SWEEP_MS && !pending.suspect)) continue;
      pending.suspect = false;
      try {
        const job = await Job.fromId<InvocationJob, InvocationOutcome>(pending.queue, pending.jobId);
        if (pending.ended) continue;
        if (job === undefined) {
          this.lost(pending, "its job is no longer in Redis (Redis lost it, or it was removed)");
          continue;
        }
        const state = await job.getState();
        if (state === "completed") {
          const outcome = parseOutcome(job.returnvalue);
          // Its result may be written just after its state: the next sweep reads it again, a few times.
          if (outcome !== undefined || ++pending.unreadable >= 3) this.collect(pending, outcome);
        } else if (state === "failed") this.lost(pending, job.failedReason);
      } catch {
        // Redis went away during the sweep; the next one tries again.
      }
    }
  }

  /**
   * The depth of each queue (this scheduler's, and every one a live worker serves) and the live workers, for the
   * metrics: one read of the workers registry and one BullMQ count per queue.
   */
  async stats(): Promise<DistributedStats> {
    const listed = (await listWorkers(this.commands)).filter((worker) => worker.alive);
    const names = new Set(this.queues.keys());
    for (const worker of listed)
      for (const runtime of worker.runtimes)
        for (const subset of labelSubsets(worker.labels)) names.add(queueName(runtime, subset));
    const queues = await Promise.all(
      [...names].sort().map(async (name) => {
        const counts = await this.queue(name).getJobCounts("waiting", "prioritized", "active", "delayed");
        return {
          name,
          waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
          active: counts.active ?? 0,
          delayed: counts.delayed ?? 0,
        };
      }),
    );
    return {
      queues,
      workers: listed.map((worker) => ({
        id: worker.id,
        runtimes: worker.runtimes,
        inFlight: worker.inFlight,
      })),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const pending of [...this.pending.values()]) {
      if (!pending.ended) pending.sink.cancelled(0, "the scheduler is closing");
    }
    // Bounded: with Redis down, closing politely would wait for it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.queues.values()].map((queue) => queue.close().catch(() => {}))),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 3_000);
      }),
    ]);
    clearTimeout(timer);
    await this.blobs.close();
    this.subscriber.disconnect();
    this.commands.disconnect();
  }
}

function valueFailure(error: unknown): FailureInfo {
  return {
    message:
      error instanceof ValueError ? error.message : `inputs cannot be encoded: ${(error as Error).message}`,
    type: error instanceof ValueError ? error.type : "value.unencodable",
    retryable: false,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/** The sink of a chain re-attached from step `offset`: earlier steps were delivered before, later ones shift. */
function shiftSteps(sink: InvocationSink, offset: number): InvocationSink {
  return {
    started: (step) => step >= offset && sink.started(step - offset),
    log: (step, level, message, fields) => step >= offset && sink.log(step - offset, level, message, fields),
    progress: (step, fraction, message) => step >= offset && sink.progress(step - offset, fraction, message),
    chunk: (step, port, value) => step >= offset && sink.chunk(step - offset, port, value),
    heartbeat: (step, details) => step >= offset && sink.heartbeat(step - offset, details),
    completed: (step, outputs, durationUs) =>
      step >= offset && sink.completed(step - offset, outputs, durationUs),
    failed: (step, failure, durationUs) => {
      if (step >= offset) sink.failed(step - offset, failure, durationUs);
    },
    cancelled: (step, reason) => {
      if (step >= offset) sink.cancelled(step - offset, reason);
    },
    rejected: (failure) => sink.rejected(failure),
  };
}

function parseOutcome(value: unknown): InvocationOutcome | undefined {
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as InvocationOutcome).events))
    return undefined;
  return parsed as InvocationOutcome;
}

/**
 * A runtime whose nodes run on workers: the host's view of it, the same interface as a local runtime's. Its node
 * types are the ones its workers advertised; each invocation (a node, or a chain on it) is one job.
 */
export class RemoteRuntime implements RuntimeConnection {
  readonly name: string;
  readonly supportsSteps: boolean;
  readonly description: RuntimeDescription;
  private readonly byType: Map<string, NodeType>;

  constructor(
    private readonly dispatcher: Dispatcher,
    description: RuntimeDescription,
    readonly nodeTypes: readonly NodeType[],
  ) {
    this.name = description.name;
    // Many invocations wait in the queue; the workers' own concurrency bounds what runs.
    this.description = {
      ...description,
      maxConcurrency: 1_000_000,
      features: [...description.features, WORKER_LABELS_FEATURE],
    };
    this.supportsSteps = description.features.includes(FEATURES.steps);
    this.byType = new Map(nodeTypes.map((nodeType) => [nodeType.type, nodeType]));
  }

  findNodeType(type: string): NodeType | undefined {
    return this.byType.get(type);
  }

  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl {
    // A chain runs where every one of its nodes may: on a worker with all their labels.
    const labels = [...new Set(request.steps.flatMap((step) => step.runsOn ?? []))].sort();
    return this.dispatcher.execute(this, request, sink, labels);
  }

  validateConfig(nodeType: string, config: Record<string, unknown>): Promise<ConfigDiagnostic[]> {
    const described = this.byType.get(nodeType);
    return Promise.resolve(described === undefined ? [] : checkConfigAgainstSchema(described, config));
  }

  health(): RuntimeHealth {
    return {
      name: this.name,
      state: this.dispatcher.redis.status === "ready" ? "ok" : "restarting",
      ...(this.dispatcher.redis.status === "ready"
        ? {}
        : { reason: `waiting for Redis at ${describeRedis(this.dispatcher.options.redis)}` }),
      restarts: 0,
      nodeTypes: this.nodeTypes.length,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
