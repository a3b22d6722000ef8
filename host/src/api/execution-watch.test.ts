import { describe, expect, it } from "vitest";
import type { Conductor } from "../conductor.js";
import { ConductorError } from "../errors.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { watchExecution } from "./execution-watch.js";

/** A conductor whose only execution is recorded, but never live here (as when another process runs it). */
function recordedOnly(events: ExecutionEvent[], status: () => string): Conductor {
  return {
    executions: {
      subscribe(
        executionId: string,
        listener: (event: ExecutionEvent) => void,
        options?: { afterSeq?: number },
      ) {
        if (executionId !== "x")
          throw new ConductorError("execution_not_found", `no execution "${executionId}"`);
        for (const event of events) if (event.seq > (options?.afterSeq ?? 0)) listener(event);
        return () => {};
      },
      get: (executionId: string) => (executionId === "x" ? { status: status() } : undefined),
    },
  } as unknown as Conductor;
}

const event = (seq: number, type: "node.queued" | "execution.finished"): ExecutionEvent =>
  type === "execution.finished"
    ? { type, seq, executionId: "x", at: 0, status: "completed", outputs: {}, durationMs: 1 }
    : { type, seq, executionId: "x", at: 0, nodeId: "n" };

describe("watchExecution()", () => {
  it("picks up events recorded by another process and ends when the record says it finished", async () => {
    const events = [event(1, "node.queued"), event(2, "node.queued")];
    let status = "running";
    const seen: number[] = [];
    const watching = (async () => {
      for await (const { event } of watchExecution(
        recordedOnly(events, () => status),
        "x",
        0,
        new AbortController().signal,
      )) {
        seen.push(event!.seq);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual([1, 2]);
    events.push(event(3, "node.queued"), event(4, "execution.finished"));
    status = "completed";
    await watching;
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it("ends at once for a finished execution with nothing after afterSeq", async () => {
    const conductor = recordedOnly(
      [event(1, "node.queued"), event(2, "execution.finished")],
      () => "completed",
    );
    const seen: number[] = [];
    for await (const { event } of watchExecution(conductor, "x", 2, new AbortController().signal))
      seen.push(event!.seq);
    expect(seen).toEqual([]);
  });

  it("ends with UNAVAILABLE when its signal aborts, saying where to resume", async () => {
    const abort = new AbortController();
    const conductor = recordedOnly([event(1, "node.queued")], () => "running");
    const seen: number[] = [];
    setTimeout(() => abort.abort(), 50);
    const watching = (async () => {
      for await (const { event } of watchExecution(conductor, "x", 0, abort.signal)) seen.push(event!.seq);
    })();
    await expect(watching).rejects.toMatchObject({
      code: 14,
      rawMessage: "the server is shutting down; watch again with after_seq 1 to resume",
    });
    expect(seen).toEqual([1]);
  });

  it("fails with NOT_FOUND for an unknown execution", async () => {
    const conductor = recordedOnly([], () => "running");
    const stream = watchExecution(conductor, "nope", 0, new AbortController().signal);
    await expect(stream.next()).rejects.toMatchObject({ code: 5, rawMessage: 'no execution "nope"' });
  });
});
