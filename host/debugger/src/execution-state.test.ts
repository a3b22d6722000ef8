import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ExecutionEventSchema, ExecutionStatus } from "@conductor/sdk/client";
import { describe, expect, it } from "vitest";
import { applyEvent, startingExecution } from "./execution-state.js";

describe("applyEvent()", () => {
  it("shows a resumed execution whole: nodes finished before the stop, timed from its first start", () => {
    const events = [
      create(ExecutionEventSchema, {
        seq: 1,
        at: timestampFromMs(1_000),
        kind: { case: "executionStarted", value: { blueprintId: "flow", inputsJson: "{}" } },
      }),
      create(ExecutionEventSchema, {
        seq: 2,
        at: timestampFromMs(1_010),
        nodeId: "a",
        kind: { case: "nodeCompleted", value: { outputsJson: "{}", durationMs: 10 } },
      }),
      create(ExecutionEventSchema, {
        seq: 3,
        at: timestampFromMs(61_000),
        kind: { case: "executionStarted", value: { blueprintId: "flow", inputsJson: "{}", resumed: true } },
      }),
      create(ExecutionEventSchema, {
        seq: 4,
        at: timestampFromMs(61_100),
        kind: { case: "executionFinished", value: { status: ExecutionStatus.COMPLETED, durationMs: 100 } },
      }),
    ];
    const view = events.reduce(applyEvent, startingExecution("e", "flow"));
    expect(view.nodes.a?.status).toBe("completed");
    expect(view.startedAt).toBe(1_000);
    expect(view.durationMs).toBe(60_100);
    expect(view.status).toBe("completed");
  });

  it("keeps each stream output's item count and state, and starts again with a new attempt", () => {
    const event = (seq: number, kind: NonNullable<MessageInitShape<typeof ExecutionEventSchema>["kind"]>) =>
      create(ExecutionEventSchema, { seq, at: timestampFromMs(1_000 + seq), nodeId: "p", kind });
    const events = [
      event(1, { case: "nodeStarted", value: { attempt: 1, runtime: "python", inputsJson: "{}" } }),
      event(2, { case: "nodeStream", value: { port: "lines", items: 0n, state: "open" } }),
      event(3, { case: "nodeStream", value: { port: "words", items: 0n, state: "open" } }),
      event(4, { case: "nodeStream", value: { port: "lines", items: 1000n, state: "open" } }),
    ];
    const streaming = events.reduce(applyEvent, startingExecution("e", "flow"));
    expect(streaming.nodes.p?.streams).toEqual({
      lines: { items: 1000, state: "open" },
      words: { items: 0, state: "open" },
    });
    const failed = applyEvent(
      streaming,
      event(5, { case: "nodeStream", value: { port: "lines", items: 1234n, state: "failed" } }),
    );
    expect(failed.nodes.p?.streams?.lines).toEqual({ items: 1234, state: "failed" });
    const retried = applyEvent(
      failed,
      event(6, { case: "nodeStarted", value: { attempt: 2, runtime: "python", inputsJson: "{}" } }),
    );
    expect(retried.nodes.p?.streams).toBeUndefined();
  });
});
