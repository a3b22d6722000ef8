import type { FailureInfo, InvocationSink } from "@conductor/sdk/protocol";
import { ValueError } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { transferringSink } from "./shared-values.js";

/** A sink recording each call as a line. */
function recorder(): { sink: InvocationSink; calls: string[] } {
  const calls: string[] = [];
  const sink: InvocationSink = {
    started: (step) => calls.push(`started ${step}`),
    log: (step, _level, message) => calls.push(`log ${step} ${message}`),
    progress: (step, fraction) => calls.push(`progress ${step} ${fraction}`),
    chunk: (step, port, value) => calls.push(`chunk ${step} ${port} ${String(value)}`),
    heartbeat: (step) => calls.push(`heartbeat ${step}`),
    completed: (step, outputs) => calls.push(`completed ${step} ${JSON.stringify(outputs)}`),
    failed: (step, failure: FailureInfo) => calls.push(`failed ${step} ${failure.type} ${failure.message}`),
    cancelled: (step, reason) => calls.push(`cancelled ${step} ${reason}`),
    rejected: (failure) => calls.push(`rejected ${failure.message}`),
  };
  return { sink, calls };
}

const where = (step: number, port: string) => ({
  text: `output "${port}" of node "n${step}"`,
  nodeId: `n${step}`,
});

describe("transferringSink()", () => {
  it("passes events through at once while no value has to move", () => {
    const { sink, calls } = recorder();
    const wrapped = transferringSink(sink, (value) => value, where);
    wrapped.started(0);
    wrapped.completed(0, { a: 1 }, 5);
    expect(calls).toEqual(["started 0", 'completed 0 {"a":1}']);
  });

  it("holds the events after an output that moves until it moved, in order", async () => {
    const { sink, calls } = recorder();
    let release: () => void = () => {};
    const moved = new Promise<string>((resolve) => {
      release = () => resolve("fetched");
    });
    const wrapped = transferringSink(sink, (value) => (value === "big" ? moved : value), where);
    wrapped.started(0);
    wrapped.completed(0, { small: "s", large: "big" }, 5);
    wrapped.started(1);
    wrapped.log(1, "info", "hello", undefined);
    expect(calls).toEqual(["started 0"]);
    release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(calls).toEqual([
      "started 0",
      'completed 0 {"small":"s","large":"fetched"}',
      "started 1",
      "log 1 hello",
    ]);
  });

  it("fails the step whose output cannot move, naming the node and the port", async () => {
    const { sink, calls } = recorder();
    const wrapped = transferringSink(
      sink,
      (value) =>
        value === "lost"
          ? Promise.reject(
              new ValueError("chunk 2 of 3 of blob redis-blob:e/x is missing from Redis", "blob.corrupt"),
            )
          : value,
      where,
    );
    wrapped.completed(1, { data: "lost" }, 5);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(calls).toEqual([
      'failed 1 blob.corrupt output "data" of node "n1": chunk 2 of 3 of blob redis-blob:e/x is missing from Redis',
    ]);
  });
});
