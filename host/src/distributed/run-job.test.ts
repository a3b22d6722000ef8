import type { InvocationControl } from "@conductor/sdk";
import {
  dispatchSessionResponse,
  type InvocationRequest,
  type InvocationSink,
  type NodeType,
  SessionRequestWriter,
} from "@conductor/sdk/protocol";
import type { Job } from "bullmq";
import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import type { BlobTransfer } from "./blob-transfer.js";
import { decodeLiveEvent, type InvocationJob, type InvocationOutcome } from "./job-data.js";
import { type RunningJob, runJob } from "./run-job.js";

/**
 * runJob's start claim against a Redis whose answer the test gives when it wants (every other part faked): the
 * order of the claim, the node's start and the events that leave the worker is what is checked, which a real
 * Redis answering within a millisecond cannot make certain.
 */

/** The flags of a node type that the worker reads. */
interface Flags {
  idempotent?: boolean;
  deterministic?: boolean;
}

/** A runtime whose one node starts, logs and completes as soon as it is executed. */
function fakeRuntime(flags: Flags) {
  const calls: string[] = [];
  const connection = {
    findNodeType: () => ({ type: "t.increment", flags }) as unknown as NodeType,
    execute(_request: InvocationRequest, sink: InvocationSink): InvocationControl {
      calls.push("execute");
      sink.started(0);
      sink.log(0, "info", "node's own line", undefined);
      sink.completed(0, { x: 2 }, 10);
      return { cancel: (reason) => calls.push(`cancel: ${reason}`) };
    },
  } as unknown as RuntimeConnection;
  return { connection, calls };
}

/** The job of one `t.increment` node, as a scheduler writes it. */
function fakeJob(): Job<InvocationJob, InvocationOutcome> {
  const writer = new SessionRequestWriter({ inlineLimit: 1 << 20 });
  writer.execute({
    invocationId: 0,
    executionId: "e1",
    steps: [
      {
        nodeId: "n0",
        nodeType: "t.increment",
        attempt: 1,
        config: {},
        inputs: { x: { value: 1 } },
        timeoutMs: 0,
      },
    ],
  });
  return {
    id: "e1~n0~1",
    attemptsStarted: 2,
    queueQualifiedName: "conductor:run.node",
    data: {
      runtime: "node",
      request: Buffer.from(writer.finish()).toString("base64"),
      replyTo: "events",
      nodes: ["n0"],
    },
  } as unknown as Job<InvocationJob, InvocationOutcome>;
}

/** The events a scheduler would receive, as text, in order. */
function receivedEvents(published: Buffer[]): string[] {
  const events: string[] = [];
  const sink: InvocationSink = {
    started: () => events.push("started"),
    log: (_step, _level, message) => events.push(`log: ${message}`),
    progress: () => events.push("progress"),
    chunk: () => events.push("chunk"),
    heartbeat: () => events.push("heartbeat"),
    completed: (_step, outputs) => events.push(`completed ${Object.keys(outputs).join(", ")}`),
    failed: (_step, failure) => events.push(`failed ${failure.type}: ${failure.message}`),
    cancelled: (_step, reason) => events.push(`cancelled: ${reason}`),
    rejected: (failure) => events.push(`rejected: ${failure.message}`),
  };
  for (const message of published) dispatchSessionResponse(decodeLiveEvent(message)!.response, () => sink);
  return events;
}

/** Runs the job with a claim answered by `answer()` when the test calls it. */
function start(flags: Flags) {
  const runtime = fakeRuntime(flags);
  const published: Buffer[] = [];
  let answer: (value: string) => void = () => {};
  const commands = {
    eval: () =>
      new Promise<string>((resolve) => {
        runtime.calls.push("claim sent");
        answer = resolve;
      }),
  } as unknown as Redis;
  const queueConnection = {
    publish: (_channel: string, message: Buffer) => {
      published.push(message);
      return Promise.resolve(1);
    },
  } as unknown as Redis;
  const blobs = {
    incomingRequest: (request: InvocationRequest) => ({ request, release: () => Promise.resolve() }),
    outgoingSink: (sink: InvocationSink) => sink,
  } as unknown as BlobTransfer;
  const running = new Map<string, RunningJob>();
  const outcome = runJob(fakeJob(), "token", {
    workerId: "w1",
    connection: runtime.connection,
    commands,
    queueConnection,
    inlineLimit: 1 << 20,
    blobs,
    running,
    onEnd: () => {},
  });
  return { outcome, calls: runtime.calls, published, running, answer: (value: string) => answer(value) };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Answers the job's claim as its own (worker w1, this delivery's token): the job then completes, and the node's
 * events reach the scheduler, each once and in order, after the worker's line naming itself.
 */
async function answerAsItsOwn(job: ReturnType<typeof start>): Promise<void> {
  job.answer("w1 token");
  const outcome = await job.outcome;
  expect(outcome.ok).toBe(true);
  expect(receivedEvents(job.published)).toEqual([
    "log: runs on worker w1",
    "started",
    "log: node's own line",
    "completed x",
  ]);
}

describe("runJob()", () => {
  it("starts a pure node while its claim is in flight, and lets its events go once the claim is its own", async () => {
    const job = start({ deterministic: true });
    await turn();
    // The node ran and ended, the claim has not answered: nothing left the worker.
    expect(job.calls).toEqual(["claim sent", "execute"]);
    expect(job.published).toEqual([]);
    await answerAsItsOwn(job);
  });

  it("drops a pure node's events and fails it as runtime.lost when an earlier delivery holds the claim", async () => {
    const job = start({ deterministic: true });
    await turn();
    expect(job.published).toEqual([]);
    job.answer("w0 other-token");
    const outcome = await job.outcome;
    expect(outcome.ok).toBe(false);
    expect(receivedEvents(job.published)).toEqual([
      'failed runtime.lost: the worker running node "n0" was lost (its job stalled); the node is not idempotent, so it is not run again on another worker',
    ]);
    expect(job.calls.slice(0, 2)).toEqual(["claim sent", "execute"]);
  });

  it("ends a pure job cancelled while its claim was in flight as cancelled, whoever holds the claim", async () => {
    const job = start({ deterministic: true });
    await turn();
    // What the worker does with a cancellation message: the runtime's node already ended, so it cancels nothing.
    job.running.get("e1~n0~1")!.cancelled = "stop";
    job.answer("w0 other-token");
    await job.outcome;
    expect(receivedEvents(job.published)).toEqual(["cancelled: stop"]);
  });

  it("starts a node that may have side effects only once the claim is its own", async () => {
    const job = start({});
    await turn();
    expect(job.calls).toEqual(["claim sent"]);
    await answerAsItsOwn(job);
    expect(job.calls).toEqual(["claim sent", "execute"]);
  });

  it("never starts a node that may have side effects when an earlier delivery holds the claim", async () => {
    const job = start({});
    await turn();
    job.answer("w0 other-token");
    const outcome = await job.outcome;
    expect(job.calls).toEqual(["claim sent"]);
    expect(outcome.ok).toBe(false);
    expect(receivedEvents(job.published)).toHaveLength(1);
  });

  it("runs an idempotent node without a claim", async () => {
    const job = start({ idempotent: true });
    const outcome = await job.outcome;
    expect(job.calls).toEqual(["execute"]);
    expect(outcome.ok).toBe(true);
  });
});
