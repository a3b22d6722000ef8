import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { NodeDefinition } from "@conductor/sdk";
import { loadNodeModules } from "@conductor/sdk/load";
import { type Job, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { ConductorError } from "../errors.js";
import { findProject, type Project } from "../project/project-config.js";
import type { SupervisionOptions } from "../runtime/child-runtime.js";
import { createInProcessRuntime } from "../runtime/in-process-runtime.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import { RuntimeRegistry } from "../runtime/runtime-registry.js";
import type { BlobStore } from "./blob-store.js";
import { BlobTransfer, DEFAULT_JOB_INLINE_LIMIT } from "./blob-transfer.js";
import type { CancelMessage, InvocationJob, InvocationOutcome } from "./job-data.js";
import { CANCEL_CHANNEL, LABEL_PATTERN, labelSubsets, MAX_LABELS, QUEUE_PREFIX, queueName } from "./keys.js";
import { connectRedis, describeRedis } from "./redis-connection.js";
import { type RunningJob, runJob } from "./run-job.js";
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
  /**
   * Runs the served Node runtimes (`kind: node`) inside the worker's own process, as a host runs its `nodes:`,
   * instead of in a sidecar: one process hop less per job (docs/distributed.md, "Node runtimes in the worker").
   * The worker process is then their isolation: a node that crashes the process or blocks its event loop stops
   * the worker, and its jobs are re-delivered as a killed worker's are. Default false.
   */
  inProcess?: boolean;
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
  /**
   * Outputs up to this many bytes travel inline in the job's result; larger ones go through the blob store (and
   * runtimes write them to files first). Default 1 MiB.
   */
  inlineLimit?: number;
  /** Where large values are: the same store as the schedulers' (`DistributedOptions.blobStore`). Default Redis. */
  blobStore?: BlobStore;
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
  const inlineLimit = options.inlineLimit ?? DEFAULT_JOB_INLINE_LIMIT;
  // Node runtimes run in this process when asked: loaded before anything starts, so a module that does not load
  // stops the worker with the runtime's name.
  const inProcess = new Map<string, RuntimeConnection>();
  if (options.inProcess === true) {
    for (const name of served) {
      const spec = given.runtimes[name]!;
      if (spec.kind !== "node") continue;
      let nodes: NodeDefinition[];
      try {
        nodes = await loadNodeModules(spec.modules, given.dir);
      } catch (error) {
        throw new ConductorError(
          "project_invalid",
          `runtime "${name}" of project ${given.dir} does not load in the worker: ${(error as Error).message}`,
          { cause: error },
        );
      }
      inProcess.set(
        name,
        createInProcessRuntime({
          name,
          nodes,
          ...(spec.maxConcurrency === undefined ? {} : { maxConcurrency: spec.maxConcurrency }),
        }),
      );
    }
  }
  const project: Project = {
    ...given,
    runtimes: Object.fromEntries(
      served.filter((name) => !inProcess.has(name)).map((name) => [name, given.runtimes[name]!]),
    ),
  };
  const registry = await RuntimeRegistry.create({
    project,
    nodes: [],
    inlineLimit,
    onNotice: notice,
    ...(options.supervision === undefined ? {} : { supervision: options.supervision }),
    ...(options.onRuntimeStderr === undefined ? {} : { onRuntimeStderr: options.onRuntimeStderr }),
  });
  for (const connection of inProcess.values()) registry.addConnection(connection);
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
  // Large inputs are fetched from the blob store, large outputs put there (distributed/blob-transfer.ts).
  const blobs = new BlobTransfer({
    redis: redisUrl,
    name: `conductor-worker-${id}`,
    projectDir: project.dir,
    inlineLimit,
    ...(options.blobStore === undefined ? {} : { store: options.blobStore }),
  });

  for (const name of started) {
    const connection = registry.runtimes.get(name)!;
    await advertiseRuntime(commands, {
      description: connection.description,
      nodeTypes: [...connection.nodeTypes],
    });
  }

  const processor =
    (queueConnection: Redis) =>
    (job: Job<InvocationJob, InvocationOutcome>, token?: string): Promise<InvocationOutcome> =>
      runJob(job, token ?? randomUUID(), {
        workerId: id,
        connection: registry.runtimes.get(job.data.runtime),
        commands,
        queueConnection,
        inlineLimit,
        blobs,
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
      const worker = new Worker<InvocationJob, InvocationOutcome>(
        queueName(name, subset),
        processor(queueConnection),
        {
          connection: queueConnection,
          prefix: QUEUE_PREFIX,
          concurrency,
          lockDuration,
          stalledInterval: options.stalledIntervalMs ?? lockDuration,
          maxStalledCount: MAX_STALLED,
          // A worker that loses Redis reconnects by itself and takes work again.
          autorun: true,
        },
      );
      worker.on("error", () => {});
      // Said, because a stalled job runs again elsewhere (idempotent nodes) or fails as runtime.lost: the reason
      // must be visible when a node ran twice or failed without an error of its own.
      worker.on("stalled", (jobId) =>
        notice(
          `job ${jobId} of queue ${worker.name} stalled (its worker stopped renewing its lock); it is delivered again`,
        ),
      );
      worker.on("lockRenewalFailed", (jobIds) =>
        notice(
          `worker ${id} could not renew the lock of ${jobIds.length === 1 ? `job ${jobIds[0]}` : `jobs ${jobIds.join(", ")}`} of queue ${worker.name}; another worker may take ${jobIds.length === 1 ? "it" : "them"}`,
        ),
      );
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
    `worker ${id} serves ${started.map((name) => `"${name}"${inProcess.has(name) ? " (in the worker's own process)" : ""}`).join(", ")}${labels.length > 0 ? ` with labels ${labels.join(", ")}` : ""} from Redis at ${describeRedis(redisUrl)}`,
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
      await blobs.close();
      subscriber.disconnect();
      commands.disconnect();
    },
  };
}
