import type { InvocationControl } from "@conductor/sdk";
import type { InvocationRequest, InvocationSink, NodeType } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { enforceTimeouts } from "./enforce-timeouts.js";
import type { RuntimeConnection } from "./runtime-connection.js";

/** Timers fired by hand, in the order the test chooses. */
function manualTimers() {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 1;
  return {
    pending,
    set: (callback: () => void, ms: number) => {
      pending.set(next, { callback, ms });
      return next++;
    },
    clear: (handle: unknown) => void pending.delete(handle as number),
    /** Fires the one timer of `ms`. */
    fire(ms: number) {
      const entry = [...pending].find(([, timer]) => timer.ms === ms);
      if (entry === undefined)
        throw new Error(
          `no timer of ${ms} ms; pending: ${[...pending.values()].map((t) => t.ms).join(", ")}`,
        );
      pending.delete(entry[0]);
      entry[1].callback();
    },
  };
}

/** A connection whose invocations the test drives: it keeps each sink and the cancels it got. */
function fakeConnection(defaultTimeoutMs = 0) {
  const invocations: { request: InvocationRequest; sink: InvocationSink; cancels: string[] }[] = [];
  const control: InvocationControl = { cancel() {} };
  const connection = {
    name: "fake",
    description: {} as RuntimeConnection["description"],
    nodeTypes: [],
    supportsSteps: true,
    findNodeType: (type: string) => ({ type, defaultTimeoutMs }) as unknown as NodeType,
    validateConfig: async () => [],
    close: async () => {},
    execute(request: InvocationRequest, sink: InvocationSink): InvocationControl {
      const entry = { request, sink, cancels: [] as string[] };
      invocations.push(entry);
      return { cancel: (reason) => entry.cancels.push(reason) };
    },
  } satisfies RuntimeConnection;
  return { connection, invocations, control };
}

function recorder() {
  const events: unknown[][] = [];
  const sink: InvocationSink = {
    started: (step) => events.push(["started", step]),
    log: (step, _level, message) => events.push(["log", step, message]),
    progress: () => {},
    chunk: () => {},
    heartbeat: () => {},
    completed: (step) => events.push(["completed", step]),
    failed: (step, failure) => events.push(["failed", step, failure]),
    cancelled: (step, reason) => events.push(["cancelled", step, reason]),
    rejected: (failure) => events.push(["rejected", failure]),
  };
  return { sink, events };
}

function request(timeoutMs: number): InvocationRequest {
  return {
    invocationId: 0,
    executionId: "e",
    steps: [{ nodeId: "nap", nodeType: "test.sleep", attempt: 1, config: {}, inputs: {}, timeoutMs }],
  };
}

describe("enforceTimeouts()", () => {
  it("passes an invocation without a timeout straight through", () => {
    const { connection, invocations } = fakeConnection();
    const timers = manualTimers();
    const watched = enforceTimeouts(connection, { restartsUnresponsive: true, timers });
    const { sink } = recorder();
    watched.execute(request(0), sink);
    expect(invocations[0]!.sink).toBe(sink);
  });

  it("cancels a step still running at its timeout and reports its cancellation as a retryable timeout", () => {
    const { connection, invocations } = fakeConnection();
    const timers = manualTimers();
    const watched = enforceTimeouts(connection, { restartsUnresponsive: true, timers });
    const { sink, events } = recorder();
    watched.execute(request(500), sink);
    const runtime = invocations[0]!;
    expect(timers.pending.size).toBe(0); // the clock starts at `started`, not before
    runtime.sink.started(0);
    timers.fire(500);
    expect(runtime.cancels).toEqual(['node "nap" (test.sleep) timed out after 500 ms']);
    runtime.sink.cancelled(0, 'node "nap" (test.sleep) timed out after 500 ms');
    expect(events).toEqual([
      ["started", 0],
      [
        "failed",
        0,
        { message: 'node "nap" (test.sleep) timed out after 500 ms', type: "timeout", retryable: true },
      ],
    ]);
  });

  it("says the runtime was restarted when the step did not stop within the grace", () => {
    const { connection, invocations } = fakeConnection();
    const timers = manualTimers();
    const watched = enforceTimeouts(connection, { graceMs: 100, restartsUnresponsive: true, timers });
    const { sink, events } = recorder();
    watched.execute(request(500), sink);
    invocations[0]!.sink.started(0);
    timers.fire(500);
    invocations[0]!.sink.cancelled(0, 'node "nap" ... (the runtime did not stop node "nap" within 100 ms)');
    expect(events[1]).toEqual([
      "failed",
      0,
      {
        message:
          'node "nap" (test.sleep) timed out after 500 ms; it did not stop within 100 ms of its cancellation, so runtime "fake" was restarted',
        type: "timeout",
        retryable: true,
      },
    ]);
  });

  it("ends a step its runtime cannot stop after the grace, without a retry, and drops its later events", () => {
    const { connection, invocations } = fakeConnection();
    const timers = manualTimers();
    const watched = enforceTimeouts(connection, { graceMs: 100, restartsUnresponsive: false, timers });
    const { sink, events } = recorder();
    watched.execute(request(500), sink);
    invocations[0]!.sink.started(0);
    timers.fire(500);
    timers.fire(150);
    invocations[0]!.sink.log(0, "info", "still here", undefined);
    invocations[0]!.sink.completed(0, {}, 0);
    expect(events).toEqual([
      ["started", 0],
      [
        "failed",
        0,
        {
          message:
            'node "nap" (test.sleep) timed out after 500 ms, and did not stop within 100 ms of its cancellation signal; it runs on inside the host, which cannot stop it, so it is not retried (a retry would run beside it); make the node honour its cancellation signal',
          type: "timeout",
          retryable: false,
        },
      ],
    ]);
  });

  it("keeps a cancel of the caller's a cancel, and the runtime's own timeout failure as it is", () => {
    const { connection, invocations } = fakeConnection();
    const timers = manualTimers();
    const watched = enforceTimeouts(connection, { restartsUnresponsive: true, timers });
    const first = recorder();
    watched.execute(request(500), first.sink).cancel("user asked");
    invocations[0]!.sink.started(0);
    invocations[0]!.sink.cancelled(0, "user asked");
    expect(first.events).toEqual([
      ["started", 0],
      ["cancelled", 0, "user asked"],
    ]);
    expect(timers.pending.size).toBe(0);

    const second = recorder();
    watched.execute(request(500), second.sink);
    invocations[1]!.sink.started(0);
    const failure = { message: "timed out in the runtime", type: "timeout", retryable: true };
    invocations[1]!.sink.failed(0, failure, 10);
    expect(second.events[1]).toEqual(["failed", 0, failure]);
    expect(timers.pending.size).toBe(0);
  });

  it("uses the node type's default timeout when the node sets none", () => {
    const { connection, invocations } = fakeConnection(250);
    const timers = manualTimers();
    const watched = enforceTimeouts(connection, { restartsUnresponsive: true, timers });
    watched.execute(request(0), recorder().sink);
    invocations[0]!.sink.started(0);
    timers.fire(250);
    expect(invocations[0]!.cancels).toEqual(['node "nap" (test.sleep) timed out after 250 ms']);
  });
});
