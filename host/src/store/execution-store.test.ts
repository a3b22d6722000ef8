import { describe, expect, it } from "vitest";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { applyEvent, type ExecutionDetail, summaryOf } from "./execution-store.js";

const id = "e1";

/** Events of an execution whose host stopped while `b` ran, then of its resumption, which ran `b` again. */
const events: ExecutionEvent[] = [
  { type: "execution.started", executionId: id, seq: 1, at: 1_000, blueprintId: "flow", inputs: { x: 1 } },
  { type: "node.started", executionId: id, seq: 2, at: 1_010, nodeId: "a", attempt: 1, runtime: "builtin" },
  {
    type: "node.completed",
    executionId: id,
    seq: 3,
    at: 1_020,
    nodeId: "a",
    outputs: { y: 2 },
    durationMs: 10,
  },
  { type: "node.started", executionId: id, seq: 4, at: 1_030, nodeId: "b", attempt: 1, runtime: "builtin" },
  // The host died here; another one resumed the execution a minute later.
  {
    type: "execution.started",
    executionId: id,
    seq: 5,
    at: 61_000,
    blueprintId: "flow",
    inputs: { x: 1 },
    resumed: true,
  },
  { type: "node.started", executionId: id, seq: 6, at: 61_010, nodeId: "b", attempt: 2, runtime: "builtin" },
  {
    type: "node.completed",
    executionId: id,
    seq: 7,
    at: 61_050,
    nodeId: "b",
    outputs: { z: 3 },
    durationMs: 40,
  },
  {
    type: "execution.finished",
    executionId: id,
    seq: 8,
    at: 61_060,
    status: "completed",
    outputs: { z: 3 },
    durationMs: 60,
  },
];

describe("applyEvent()", () => {
  it("keeps what a resumed execution did before its host stopped, and times the whole of it", () => {
    let detail: ExecutionDetail | undefined;
    for (const event of events) detail = applyEvent(detail, event);
    expect(detail).toMatchObject({
      status: "completed",
      startedAt: 1_000,
      finishedAt: 61_060,
      durationMs: 60_060,
      resumes: 1,
      resumedAt: 61_000,
      inputs: { x: 1 },
      outputs: { z: 3 },
    });
    expect(detail!.nodes.a).toMatchObject({
      status: "completed",
      startedAt: 1_010,
      finishedAt: 1_020,
      outputs: { y: 2 },
    });
    expect(detail!.nodes.b).toMatchObject({
      status: "completed",
      attempt: 2,
      startedAt: 61_010,
      durationMs: 40,
    });
    expect(summaryOf(detail!)).toMatchObject({ durationMs: 60_060, resumes: 1 });
  });

  it("records where a new execution comes from", () => {
    const detail = applyEvent(undefined, {
      type: "execution.started",
      executionId: "e2",
      seq: 1,
      at: 5,
      blueprintId: "flow",
      inputs: {},
      lineage: { rerunOf: id, rerunFrom: "b" },
    });
    expect(summaryOf(detail!).lineage).toEqual({ rerunOf: id, rerunFrom: "b" });
  });
});
