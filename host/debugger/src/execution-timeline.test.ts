import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type ExecutionEvent, ExecutionEventSchema, ExecutionStatus } from "@conductor/sdk/client";
import { describe, expect, it } from "vitest";
import { addEvent, emptyTimeline, type Timeline, timelineEnd } from "./execution-timeline.js";

const T0 = 1_700_000_000_000;

/** Events of one execution, numbered in order, `at` in ms after T0. */
type Kind = NonNullable<MessageInitShape<typeof ExecutionEventSchema>["kind"]>;

function events(...list: [number, string, Kind][]): ExecutionEvent[] {
  return list.map(([at, nodeId, kind], index) =>
    create(ExecutionEventSchema, { seq: index + 1, at: timestampFromMs(T0 + at), nodeId, kind }),
  );
}

const fold = (list: ExecutionEvent[]): Timeline => list.reduce(addEvent, emptyTimeline());
const started = (attempt: number) =>
  ({ case: "nodeStarted", value: { attempt, runtime: "node", inputsJson: "{}" } }) as const;
const start = [
  0,
  "",
  { case: "executionStarted", value: { blueprintId: "flow", inputsJson: "{}" } },
] as const;

describe("the execution timeline", () => {
  it("draws each attempt of a retried node as its own bar, with the retry delay and queue waits between", () => {
    const timeline = fold(
      events(
        [...start],
        [5, "fetch", { case: "nodeQueued", value: {} }],
        [10, "fetch", started(1)],
        [
          40,
          "fetch",
          {
            case: "nodeFailed",
            value: { attempt: 1, willRetry: true, retryInMs: 100, failure: { message: "HTTP 503" } },
          },
        ],
        [140, "fetch", { case: "nodeQueued", value: {} }],
        [150, "fetch", started(2)],
        [200, "fetch", { case: "nodeCompleted", value: { outputsJson: "{}", durationMs: 50 } }],
        [
          210,
          "",
          { case: "executionFinished", value: { status: ExecutionStatus.COMPLETED, durationMs: 210 } },
        ],
      ),
    );
    expect(timeline.rows.map((row) => row.nodeId)).toEqual(["fetch"]);
    const row = timeline.rows[0]!;
    expect(row.bars).toEqual([
      { attempt: 1, outcome: "retried", start: 10, end: 40, runtime: "node", failure: "HTTP 503" },
      { attempt: 2, outcome: "completed", start: 150, end: 200, runtime: "node" },
    ]);
    expect(row.waits).toEqual([
      { kind: "queued", start: 5, end: 10 },
      { kind: "retry", start: 40, end: 140 },
      { kind: "queued", start: 140, end: 150 },
    ]);
    expect(timeline.finishedAt).toBe(210);
    expect(timelineEnd(timeline, T0 + 99_999)).toBe(210);
  });

  it("keeps a running attempt open, and the axis grows with the clock while the execution runs", () => {
    const list = events([...start], [5, "slow", { case: "nodeQueued", value: {} }], [8, "slow", started(1)]);
    const timeline = fold(list);
    const bar = timeline.rows[0]!.bars[0]!;
    expect(bar.outcome).toBe("running");
    expect(bar.end).toBeUndefined();
    expect(timeline.finishedAt).toBeUndefined();
    expect(timelineEnd(timeline, T0 + 500)).toBe(500);
    // A later event extends the same timeline: the attempt ends, no new bar appears.
    const later = addEvent(
      timeline,
      create(ExecutionEventSchema, {
        seq: 4,
        at: timestampFromMs(T0 + 600),
        nodeId: "slow",
        kind: { case: "nodeCompleted", value: { outputsJson: "{}", durationMs: 592 } },
      }),
    );
    expect(later.rows[0]!.bars).toEqual([
      { attempt: 1, outcome: "completed", start: 8, end: 600, runtime: "node" },
    ]);
    // The first timeline is left as it was.
    expect(timeline.rows[0]!.bars[0]!.end).toBeUndefined();
  });

  it("draws a cache hit as a cached bar without a start event", () => {
    const timeline = fold(
      events(
        [...start],
        [30, "load", { case: "nodeCompleted", value: { outputsJson: "{}", durationMs: 2, cached: true } }],
      ),
    );
    expect(timeline.rows[0]!.bars).toEqual([
      { attempt: 1, outcome: "cached", start: 28, end: 30, runtime: "" },
    ]);
  });

  it("orders rows by first dispatch, ignores repeated events and notes skipped nodes", () => {
    const list = events(
      [...start],
      [1, "b", { case: "nodeQueued", value: {} }],
      [2, "a", { case: "nodeQueued", value: {} }],
      [3, "a", started(1)],
      [4, "b", started(1)],
      [5, "b", { case: "nodeLog", value: { message: "runs on worker w-7", fieldsJson: "" } }],
      [6, "a", { case: "nodeFailed", value: { attempt: 1, willRetry: false, failure: { message: "boom" } } }],
      [7, "c", { case: "nodeSkipped", value: { reason: "upstream a failed" } }],
      [8, "b", { case: "nodeCancelled", value: { reason: "execution failed" } }],
    );
    const timeline = fold([...list, ...list]);
    expect(timeline.rows.map((row) => row.nodeId)).toEqual(["b", "a", "c"]);
    expect(timeline.rows.map((row) => row.bars.map((bar) => bar.outcome))).toEqual([
      ["cancelled"],
      ["failed"],
      [],
    ]);
    expect(timeline.rows[0]!.bars[0]!.worker).toBe("w-7");
    expect(timeline.rows[2]!.note).toBe("skipped: upstream a failed");
  });

  it("keeps a resumed execution on one axis from its first start, ending an interrupted attempt as failed", () => {
    const timeline = fold(
      events(
        [...start],
        [1, "a", { case: "nodeQueued", value: {} }],
        [2, "a", started(1)],
        [
          1_000,
          "",
          { case: "executionStarted", value: { blueprintId: "flow", inputsJson: "{}", resumed: true } },
        ],
        [1_001, "a", { case: "nodeQueued", value: {} }],
        [1_002, "a", started(2)],
      ),
    );
    expect(timeline.startedAt).toBe(T0);
    expect(timeline.rows[0]!.bars).toEqual([
      {
        attempt: 1,
        outcome: "failed",
        start: 2,
        end: 1_000,
        runtime: "node",
        failure: "interrupted: no end was recorded (the host stopped)",
      },
      { attempt: 2, outcome: "running", start: 1_002, runtime: "node" },
    ]);
  });

  it("ends what is still open when the execution finishes", () => {
    const timeline = fold(
      events(
        [...start],
        [1, "a", { case: "nodeQueued", value: {} }],
        [2, "b", { case: "nodeQueued", value: {} }],
        [3, "a", started(1)],
        [9, "", { case: "executionFinished", value: { status: ExecutionStatus.CANCELLED, durationMs: 9 } }],
      ),
    );
    expect(timeline.rows[0]!.bars).toEqual([
      { attempt: 1, outcome: "cancelled", start: 3, end: 9, runtime: "node" },
    ]);
    expect(timeline.rows[1]!.waits).toEqual([{ kind: "queued", start: 2, end: 9 }]);
  });
});
