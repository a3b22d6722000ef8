import type { InvocationControl } from "@conductor/sdk";
import {
  decodeSessionRequest,
  type FailureInfo,
  type InvocationRequest,
  type InvocationSink,
  observeSink,
  SessionResponseWriter,
  ValueError,
} from "@conductor/sdk/protocol";
import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import type { BlobTransfer } from "./blob-transfer.js";
import { holdSink } from "./held-sink.js";
import { encodeLiveEvent, type InvocationJob, type InvocationOutcome } from "./job-data.js";
import { claimStart, corkForThisTask } from "./redis-scripts.js";

/** What {@link runJob} needs of its worker. */
export interface JobContext {
  workerId: string;
  connection: RuntimeConnection | undefined;
  commands: Redis;
  /**
   * The connection of the BullMQ worker that took the job: its live events go on it, in order, and the last one
   * in the same write as the job's completion (see `publish`).
   */
  queueConnection: Redis;
  inlineLimit: number;
  /** Large inputs are fetched from the blob store, large outputs put there (distributed/blob-transfer.ts). */
  blobs: BlobTransfer;
  running: Map<string, RunningJob>;
  onEnd(): void;
}

/** A job a worker runs: its control once its nodes started, and the cancellation asked for, if any. */
export interface RunningJob {
  control?: InvocationControl;
  cancelled?: string;
}

/**
 * How long the worker's own first line of a job (`runs on worker <id>`) may wait for the runtime's first event
 * (the node's `started`, a moment later), so that both go to the scheduler as one live event.
 */
const HOLD_FIRST_LINE_MS = 50;

/**
 * Runs one job's invocation on the worker's runtime; resolves with every event once its last step ended. Its
 * events go live to the scheduler's channel as they happen: those of one turn of the event loop as one message
 * (a node's `started` and `completed` usually come together), and all of them, in order, are the job's result.
 */
export function runJob(
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
  let flushing = false;
  let held: NodeJS.Timeout | undefined;
  let holdNext = false;
  const flush = () => {
    flushing = false;
    clearTimeout(held);
    held = undefined;
    if (writer.size === 0) return;
    const response = writer.finish();
    const seq = events.length;
    events.push(Buffer.from(response.buffer, response.byteOffset, response.byteLength).toString("base64"));
    context.queueConnection
      .publish(data.replyTo, encodeLiveEvent({ jobId: jobKey, run, seq, response }))
      .catch(() => {});
  };
  const publish = (terminal: boolean) => {
    if (terminal && ended) {
      // The job's last event goes with BullMQ's completion of the job, which the worker sends on the same
      // connection a few promise turns later: the socket is corked until those turns ran, so both go in one write.
      corkForThisTask(context.queueConnection);
      flush();
      context.running.delete(jobKey);
      context.onEnd();
      finish({ ok, worker: context.workerId, run, events });
    } else if (holdNext) {
      holdNext = false;
      held = setTimeout(flush, HOLD_FIRST_LINE_MS);
    } else if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  };
  const announce = () => {
    holdNext = true;
    sink.log(0, "info", `runs on worker ${context.workerId}`, { worker: context.workerId });
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
  // A job of pure nodes only (all deterministic) runs while its claim is in flight; see `go`.
  const pure = request.steps.every(
    (step) => connection.findNodeType(step.nodeType)?.flags?.deterministic === true,
  );
  const entry: RunningJob = {};
  context.running.set(jobKey, entry);
  // Large outputs are put in the blob store before their event leaves (the job's result carries references).
  const runtimeSink = context.blobs.outgoingSink(
    sink,
    request.executionId,
    request.steps.map((step) => step.nodeId),
  );
  const lostFailure = (node: string): FailureInfo => ({
    message: `the worker running node "${node}" was lost (its job stalled); the node is not idempotent, so it is not run again on another worker`,
    type: "runtime.lost",
    retryable: true,
    nodeId: node,
  });
  const claimFailure = (node: string, error: Error): FailureInfo => ({
    message: `worker ${context.workerId} could not record in Redis that it starts node "${node}" (${error.message}); the node is not run`,
    type: "runtime.lost",
    retryable: true,
    nodeId: node,
  });
  const go = (ready: InvocationRequest) => {
    if (unsafe === undefined) {
      announce();
      entry.control = connection.execute(ready, runtimeSink);
      return;
    }
    const claim = claimStart(
      context.commands,
      `${job.queueQualifiedName}:${jobKey}`,
      `${context.workerId} ${token}`,
    );
    if (pure) {
      // Every node is deterministic, a pure function of its inputs (the journal's barrier relies on the same flag,
      // docs/decisions.md): running it acts on nothing, so it runs while the claim is in flight, and the claim
      // decides only whether its events leave. They are held until then: a delivery that does not hold the claim
      // drops them and fails as below, so the node is never reported twice.
      const held = holdSink(runtimeSink);
      entry.control = connection.execute(ready, held.sink);
      const refuse = (failure: FailureInfo) => {
        held.discard();
        entry.control?.cancel(failure.message);
        // A cancellation asked for meanwhile ends it as cancelled, as for a job that waited for its claim.
        if (entry.cancelled !== undefined) sink.cancelled(0, entry.cancelled);
        else sink.failed(0, failure, 0);
      };
      claim.then(
        (first) => {
          if (!first) refuse(lostFailure(unsafe.nodeId));
          else {
            announce();
            held.release();
          }
        },
        (error: Error) => refuse(claimFailure(unsafe.nodeId, error)),
      );
      return;
    }
    claim.then(
      (first) => {
        if (entry.cancelled !== undefined) sink.cancelled(0, entry.cancelled);
        else if (first) {
          announce();
          entry.control = connection.execute(ready, runtimeSink);
        } else sink.failed(0, lostFailure(unsafe.nodeId), 0);
      },
      (error: Error) => sink.failed(0, claimFailure(unsafe.nodeId, error), 0),
    );
  };
  // Inputs that are blobs of the store are fetched into files of this job first (before the start claim: a worker
  // lost while fetching has started nothing); the files go when the job ends.
  const incoming = context.blobs.incomingRequest(request);
  void done.then(() => incoming.release().catch(() => {}));
  if (incoming.request instanceof Promise) {
    incoming.request.then(
      (ready) => {
        if (entry.cancelled !== undefined) sink.cancelled(0, entry.cancelled);
        else go(ready);
      },
      (error: Error) =>
        sink.rejected({
          message: error.message,
          type: error instanceof ValueError ? error.type : "blob.corrupt",
          retryable: false,
        }),
    );
  } else go(incoming.request);
  return done;
}
