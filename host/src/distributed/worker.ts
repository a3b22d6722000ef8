import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { InvocationControl } from "@conductor/sdk";
import {
  decodeSessionRequest,
  type InvocationRequest,
  type InvocationSink,
  observeSink,
  SessionResponseWriter,
} from "@conductor/sdk/protocol";
import { type Job, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { ConductorError } from "../errors.js";
import { findProject, type Project } from "../project/project-config.js";
import type { SupervisionOptions } from "../runtime/child-runtime.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import { RuntimeRegistry } from "../runtime/runtime-registry.js";
import {
  type CancelMessage,
  encodeLiveEvent,
  type InvocationJob,
  type InvocationOutcome,
} from "./job-data.js";
import { CANCEL_CHANNEL, LABEL_PATTERN, labelSubsets, MAX_LABELS, QUEUE_PREFIX, queueName } from "./keys.js";
import { connectRedis, describeRedis } from "./redis-connection.js";
import { claimStart } from "./redis-scripts.js";
import {
  advertiseRuntime,
  HEARTBEAT_MS,
  publishWorker,
  removeWorker,
  type WorkerInfo,
} from "./worker-registry.js";

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** The project whose runtimes it serves; default: the one of `projectDir`. */
  project?: Project;
  /** Where the project is (conductor.yaml, or searched upwards from). Default: the current directory. */
  projectDir?: string;
  /** The Redis URL, e.g. redis://127.0.0.1:6379. */
  redis: string;
  /** The project's runtimes to serve. Default: all of them. */
  runtimes?: readonly string[];
  /** What this worker offers beyond its runtimes (e.g. gpu, eu-west); nodes with `runsOn` need them. */
  labels?: readonly string[];
  /** Its id in `conductor workers`. Default: hostname-pid-random. */
  id?: string;
  /** Invocations taken at once per runtime. Default: the runtime's max concurrency, at most 64. */
  concurrency?: number;
  /**
   * How long a job stays locked without renewal (the worker renews it every half of this): a worker killed mid-node
   * has its jobs detected as stalled and re-delivered after about this long. Default 30 s.
   */
  lockDurationMs?: number;
  /** How often the stalled-job check runs. Default: lockDurationMs. */
  stalledIntervalMs?: number;
  /** Values up to this many bytes travel inline in the job and its result. Default 64 MiB. */
  inlineLimit?: number;
  supervision?: SupervisionOptions;
  /** Receives what the worker has to say (started, lost Redis, back). */
  onNotice?: (message: string) => void;
  onRuntimeStderr?: (runtime: string, line: string) => void;
}

/** A running worker. */
export interface ConductorWorker {
  readonly id: string;
  info(): WorkerInfo;
  /** Stops taking work, waits for what runs (up to the runtimes' drain), stops the runtimes. */
  close(): Promise<void>;
}

/** How many times a job may be found stalled (its worker gone) and be re-delivered before it fails. */
export const MAX_STALLED = 3;

/**
 * Starts a worker: the runtimes it serves (the same launch and supervision as a host's own), one BullMQ worker per
 * queue it takes from (per runtime, per subset of its labels), a heartbeat in the worker registry, and the
 * cancellation channel. Each job is one invocation: its events go back live on the scheduler's channel and, all of
 * them, as the job's result.
 */
export async function startWorker(options: WorkerOptions): Promise<ConductorWorker> {
  const given = options.project ?? (await findProject(options.projectDir ?? process.cwd()));
  const labels = [...new Set(options.labels ?? [])];
  for (const label of labels) {
    if (!LABEL_PATTERN.test(label)) {
      throw new ConductorError(
        "inputs_invalid",
        `worker label "${label}" is not a name; expected letters, digits, '-', '_' or '.', starting with a letter or digit`,
      );
    }
  }
  if (labels.length > MAX_LABELS) {
    throw new ConductorError(
      "inputs_invalid",
      `a worker takes at most ${MAX_LABELS} labels (it serves a queue per subset of them), got ${labels.length}`,
    );
  }
  const projectRuntimes = Object.keys(given.runtimes);
  const served = options.runtimes === undefined ? projectRuntimes : [...new Set(options.runtimes)];
  for (const name of served) {
    if (!projectRuntimes.includes(name)) {
      throw new ConductorError(
        "inputs_invalid",
        `the project has no runtime "${name}" to serve; its runtimes are: ${projectRuntimes.join(", ") || "(none)"}`,
      );
    }
  }
  if (served.length === 0) {
    throw new ConductorError(
      "inputs_invalid",
      `a worker serves the project's runtimes, and project ${given.dir} has none`,
    );
  }
  const notice = options.onNotice ?? (() => {});
  const id = options.id ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 6)}`;
  const inlineLimit = options.inlineLimit ?? 64 * 1024 * 1024;
  const project: Project = {
    ...given,
    runtimes: Object.fromEntries(served.map((name) => [name, given.runtimes[name]!])),
  };
  const registry = await RuntimeRegistry.create({
    project,
    nodes: [],
    inlineLimit,
    onNotice: notice,
    ...(options.supervision === undefined ? {} : { supervision: options.supervision }),
    ...(options.onRuntimeStderr === undefined ? {} : { onRuntimeStderr: options.onRuntimeStderr }),
  });
  await registry.startExternal();
  const started = served.filter((name) => registry.runtimes.get(name)?.health?.().state !== "broken");
  if (started.length === 0) {
    const problem = registry.startProblem();
    await registry.close();
    throw problem ?? new ConductorError("runtime_start_failed", "no runtime of the worker started");
  }
  for (const name of served) {
    if (!started.includes(name)) notice(`runtime "${name}" did not start; this worker does not serve it`);
  }

  const redisUrl = options.redis;
  const commands = connectRedis(redisUrl, `conductor-worker-${id}`);
  const subscriber = connectRedis(redisUrl, `conductor-worker-${id}-cancel`);
  const info: WorkerInfo = {
    id,
    hostname: hostname(),
    pid: process.pid,
    labels,
    runtimes: started,
    inFlight: 0,
    done: 0,
    state: "ok",
    startedAt: new Date().toISOString(),
    lastHeartbeat: new Date().toISOString(),
  };
  const running = new Map<string, RunningJob>();
  let closing = false;

  for (const name of started) {
    const connection = registry.runtimes.get(name)!;
    await advertiseRuntime(commands, {
      description: connection.description,
      nodeTypes: [...connection.nodeTypes],
    });
  }

  const run = (job: Job<InvocationJob, InvocationOutcome>, token?: string): Promise<InvocationOutcome> =>
    runJob(job, token ?? randomUUID(), {
      workerId: id,
      connection: registry.runtimes.get(job.data.runtime),
      commands,
      inlineLimit,
      running,
      onEnd: () => {
        info.done++;
      },
    });

  const lockDuration = options.lockDurationMs ?? 30_000;
  const workers: Worker[] = [];
  const queueConnections: Redis[] = [];
  for (const name of started) {
    const connection = registry.runtimes.get(name)!;
    const concurrency = options.concurrency ?? Math.min(64, connection.description.maxConcurrency);
    for (const subset of labelSubsets(labels)) {
      const queueConnection = connectRedis(redisUrl, `conductor-worker-${id}-${name}`);
      queueConnections.push(queueConnection);
      const worker = new Worker<InvocationJob, InvocationOutcome>(queueName(name, subset), run, {
        connection: queueConnection,
        prefix: QUEUE_PREFIX,
        concurrency,
        lockDuration,
        stalledInterval: options.stalledIntervalMs ?? lockDuration,
        maxStalledCount: MAX_STALLED,
        // A worker that loses Redis reconnects by itself and takes work again.
        autorun: true,
      });
      worker.on("error", () => {});
      workers.push(worker);
    }
  }

  // Cancellations cross machines on one channel; the worker running the job acts on it.
  await subscriber.subscribe(CANCEL_CHANNEL);
  subscriber.on("message", (_channel: string, text: string) => {
    let message: CancelMessage;
    try {
      message = JSON.parse(text) as CancelMessage;
    } catch {
      return;
    }
    const entry = running.get(message.j);
    if (entry === undefined || entry.cancelled !== undefined) return;
    entry.cancelled = message.r;
    entry.control?.cancel(message.r);
  });

  // Cut off from Redis: it takes no work (BullMQ cannot fetch any), says so, and once its jobs' locks must have
  // expired (other workers may take them) it stops what it runs, so that no node's result is given twice.
  let lostTimer: NodeJS.Timeout | undefined;
  commands.on("close", () => {
    if (closing || info.state === "disconnected") return;
    info.state = "disconnected";
    notice(
      `worker ${id} cannot reach Redis at ${describeRedis(redisUrl)}; it takes no work until Redis is back (it reconnects by itself)`,
    );
    lostTimer = setTimeout(() => {
      for (const entry of running.values()) {
        entry.cancelled = "the worker lost Redis";
        entry.control?.cancel(
          `worker ${id} lost its connection to Redis for longer than a job's lock; its jobs go to other workers`,
        );
      }
    }, lockDuration);
    lostTimer.unref();
  });
  commands.on("ready", () => {
    clearTimeout(lostTimer);
    if (info.state !== "disconnected") return;
    info.state = "ok";
    notice(`worker ${id} reached Redis at ${describeRedis(redisUrl)} again; it takes work`);
    void heartbeat();
  });

  const heartbeat = async () => {
    if (closing && info.state !== "stopping") return;
    info.inFlight = running.size;
    info.lastHeartbeat = new Date().toISOString();
    // While Redis is down the command waits; a heartbeat already waiting is enough.
    if (commands.status !== "ready") return;
    await publishWorker(commands, info).catch(() => {});
  };
  await heartbeat();
  const heartbeatTimer = setInterval(() => void heartbeat(), HEARTBEAT_MS);
  heartbeatTimer.unref();
  notice(
    `worker ${id} serves ${started.map((name) => `"${name}"`).join(", ")}${labels.length > 0 ? ` with labels ${labels.join(", ")}` : ""} from Redis at ${describeRedis(redisUrl)}`,
  );

  return {
    id,
    info: () => ({ ...info, inFlight: running.size }),
    close: async () => {
      if (closing) return;
      closing = true;
      clearInterval(heartbeatTimer);
      clearTimeout(lostTimer);
      info.state = "stopping";
      // Running nodes may finish (up to 30 s); then the queues are closed at once.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(workers.map((worker) => worker.close().catch(() => {}))),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 30_000);
        }),
      ]);
      clearTimeout(timer);
      await Promise.race([
        Promise.all(workers.map((worker) => worker.close(true).catch(() => {}))),
        new Promise((resolve) => setTimeout(resolve, 3_000).unref()),
      ]);
      for (const connection of queueConnections) connection.disconnect();
      if (commands.status === "ready") await removeWorker(commands, id).catch(() => {});
      await registry.close();
      subscriber.disconnect();
      commands.disconnect();
    },
  };
}

interface JobContext {
  workerId: string;
  connection: RuntimeConnection | undefined;
  commands: Redis;
  inlineLimit: number;
  running: Map<string, RunningJob>;
  onEnd(): void;
}

/** A job this worker runs: its control once its nodes started, and the cancellation asked for, if any. */
interface RunningJob {
  control?: InvocationControl;
  cancelled?: string;
}

/** Runs one job's invocation on the worker's runtime; resolves with every event once its last step ended. */
function runJob(
  job: Job<InvocationJob, InvocationOutcome>,
  token: string,
  context: JobContext,
): Promise<InvocationOutcome> {
  const { data } = job;
  const jobKey = job.id ?? "";
  const run = Math.max(1, job.attemptsStarted);
  const events: string[] = [];
  const writer = new SessionResponseWriter({ inlineLimit: context.inlineLimit });
  let ok = false;
  let ended = false;
  let finish: (outcome: InvocationOutcome) => void = () => {};
  const done = new Promise<InvocationOutcome>((resolve) => {
    finish = resolve;
  });
  // The events of one turn of the event loop go as one live event (a node's `started` and `completed` usually
  // come together); the job's last event goes at once, before the job is finished.
  let flushing = false;
  const flush = () => {
    flushing = false;
    if (writer.size === 0) return;
    const response = writer.finish();
    const seq = events.length;
    events.push(Buffer.from(response.buffer, response.byteOffset, response.byteLength).toString("base64"));
    context.commands
      .publish(data.replyTo, encodeLiveEvent({ jobId: jobKey, run, seq, response }))
      .catch(() => {});
  };
  const publish = (terminal: boolean) => {
    if (terminal && ended) {
      flush();
      context.running.delete(jobKey);
      context.onEnd();
      finish({ ok, worker: context.workerId, run, events });
    } else if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  };
  let lastStep = 0;
  const sink: InvocationSink = observeSink(writer.sink(0, publish), {
    onEnd: (step, end) => {
      if (end !== "completed" || step === lastStep) {
        ended = true;
        ok = end === "completed";
      }
    },
  });

  let request: InvocationRequest | undefined;
  try {
    const command = decodeSessionRequest(Buffer.from(data.request, "base64"))[0];
    if (command?.kind === "execute") request = command.request;
  } catch {
    // Reported below.
  }
  if (request === undefined || request.steps.length === 0) {
    sink.rejected({
      message: `job ${jobKey} holds no invocation a worker can read; the scheduler and the worker may run different Conductor versions`,
      type: "runtime.protocol",
      retryable: false,
    });
    return done;
  }
  lastStep = request.steps.length - 1;
  const connection = context.connection;
  if (connection === undefined) {
    sink.rejected({
      message: `worker ${context.workerId} does not serve runtime "${data.runtime}"`,
      type: "runtime.lost",
      retryable: true,
    });
    return done;
  }
  // A job with a non-idempotent node runs only if no earlier delivery of it started its nodes: the worker claims
  // it in the job's hash before it runs (see claimStart). A job taken a second time because its first worker was
  // lost mid-node fails as a lost local runtime does (retryable runtime.lost), so that it never completes twice; a
  // job re-delivered although no worker started it (its first delivery's reply was lost when Redis restarted) runs.
  const unsafe = request.steps.find(
    (step) => connection.findNodeType(step.nodeType)?.flags?.idempotent !== true,
  );
  const entry: RunningJob = {};
  context.running.set(jobKey, entry);
  if (unsafe === undefined) {
    start(request, connection, sink, entry, context);
    return done;
  }
  claimStart(context.commands, `${job.queueQualifiedName}:${jobKey}`, `${context.workerId} ${token}`).then(
    (first) => {
      if (entry.cancelled !== undefined) sink.cancelled(0, entry.cancelled);
      else if (first) start(request, connection, sink, entry, context);
      else
        sink.failed(
          0,
          {
            message: `the worker running node "${unsafe.nodeId}" was lost (its job stalled); the node is not idempotent, so it is not run again on another worker`,
            type: "runtime.lost",
            retryable: true,
            nodeId: unsafe.nodeId,
          },
          0,
        );
    },
    (error: Error) =>
      sink.failed(
        0,
        {
          message: `worker ${context.workerId} could not record in Redis that it starts node "${unsafe.nodeId}" (${error.message}); the node is not run`,
          type: "runtime.lost",
          retryable: true,
          nodeId: unsafe.nodeId,
        },
        0,
      ),
  );
  return done;
}

function start(
  request: InvocationRequest,
  connection: RuntimeConnection,
  sink: InvocationSink,
  entry: RunningJob,
  context: JobContext,
): void {
  sink.log(0, "info", `runs on worker ${context.workerId}`, { worker: context.workerId });
  entry.control = connection.execute(request, sink);
}
