import { create } from "@bufbuild/protobuf";
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
});
