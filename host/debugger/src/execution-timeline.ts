import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ExecutionEvent } from "@conductor/sdk/client";
import { workerOf } from "./node-worker.js";

/** How one attempt of a node ended; `retried` is a failed attempt that another attempt follows. */
export type AttemptOutcome = "running" | "completed" | "cached" | "failed" | "retried" | "cancelled";

/** One attempt of a node: a bar on the node's row. Times are milliseconds since the execution started. */
export interface AttemptBar {
  attempt: number;
  outcome: AttemptOutcome;
  start: number;
  /** Unset while the attempt runs. */
  end?: number;
  runtime: string;
  /** The `conductor worker` that ran it, when a worker did. */
  worker?: string;
  /** The failure's message, for a failed or retried attempt. */
  failure?: string;
}

/**
 * Time a node spent not running: `queued` from its dispatch to its start (waiting for a runtime slot or a
 * worker), `retry` from a failed attempt to the next dispatch (the retry delay).
 */
export interface WaitSpan {
  kind: "queued" | "retry";
  start: number;
  /** Unset while the wait lasts. */
  end?: number;
}

/** A node's row: its attempts and the waits between them, in the order they happened. */
export interface TimelineRow {
  nodeId: string;
  bars: AttemptBar[];
  waits: WaitSpan[];
  /** Set when the node was skipped (its row has no bars) or cancelled before it started. */
  note?: string;
}

/** An execution as a timeline, folded from its events. Rows are in the order nodes were first dispatched. */
export interface Timeline {
  /** Wall-clock time the execution started (ms since the epoch); 0 until its first event. */
  startedAt: number;
  /** Milliseconds since the start at which it finished; unset while it runs. */
  finishedAt?: number;
  rows: TimelineRow[];
  lastSeq: number;
}

/** The failure of an attempt whose end was never recorded (its host stopped while it ran). */
const INTERRUPTED = "interrupted: no end was recorded (the host stopped)";

export function emptyTimeline(): Timeline {
  return { startedAt: 0, rows: [], lastSeq: 0 };
}

/** Applies one event to a timeline, giving a new timeline (the old one is left as it was, for rendering). */
export function addEvent(timeline: Timeline, event: ExecutionEvent): Timeline {
  if (event.seq <= timeline.lastSeq) return timeline;
  const wall = event.at === undefined ? Date.now() : timestampMs(event.at);
  const startedAt = timeline.startedAt === 0 ? wall : timeline.startedAt;
  const at = wall - startedAt;
  const next: Timeline = { ...timeline, startedAt, lastSeq: event.seq };
  const kind = event.kind;
  if (kind.case === "executionStarted") {
    // A resumed execution keeps its first start; what ran before the stop stays on the axis.
    if (kind.value.resumed && timeline.lastSeq > 0) {
      delete next.finishedAt;
      // Attempts running when the host stopped have no recorded end: they end, failed, at the resume.
      next.rows = next.rows.map((row) => closeOpen(row, at, "failed", INTERRUPTED));
    }
    return next;
  }
  if (kind.case === "executionFinished") {
    next.finishedAt = at;
    // Whatever was still open when the execution ended ends with it.
    next.rows = next.rows.map((row) => closeOpen(row, at, "cancelled"));
    return next;
  }
  if (event.nodeId === "") return next;
  const index = next.rows.findIndex((row) => row.nodeId === event.nodeId);
  const found = index >= 0 ? next.rows[index] : undefined;
  if (found === undefined && (kind.case === "nodeLog" || kind.case === "nodeProgress")) return next;
  const row: TimelineRow = found
    ? { ...found, bars: [...found.bars], waits: [...found.waits] }
    : { nodeId: event.nodeId, bars: [], waits: [] };
  next.rows = [...next.rows];
  if (index >= 0) next.rows[index] = row;
  else next.rows.push(row);
  const open = openBar(row);
  switch (kind.case) {
    case "nodeQueued":
      // After a retry delay the wait goes on as a queued one.
      endWait(row, at);
      row.waits.push({ kind: "queued", start: at });
      break;
    case "nodeStarted":
      endWait(row, at);
      // An attempt with no recorded end is over once another starts.
      if (open !== undefined) replaceBar(row, { ...open, outcome: "failed", end: at, failure: INTERRUPTED });
      row.bars.push({
        attempt: kind.value.attempt,
        outcome: "running",
        start: at,
        runtime: kind.value.runtime,
      });
      break;
    case "nodeLog": {
      const worker = workerOf([{ at: wall, level: "", message: kind.value.message, fieldsJson: "" }]);
      if (worker !== undefined && open !== undefined) replaceBar(row, { ...open, worker });
      break;
    }
    case "nodeCompleted":
      endWait(row, at);
      if (open !== undefined)
        replaceBar(row, { ...open, outcome: kind.value.cached ? "cached" : "completed", end: at });
      else {
        // A cache hit has no start event: its bar is the time the lookup took, ending now.
        row.bars.push({
          attempt: row.bars.length + 1,
          outcome: kind.value.cached ? "cached" : "completed",
          start: Math.max(0, at - kind.value.durationMs),
          end: at,
          runtime: "",
        });
      }
      break;
    case "nodeFailed": {
      endWait(row, at);
      const outcome: AttemptOutcome = kind.value.willRetry ? "retried" : "failed";
      const failure = kind.value.failure?.message ?? "";
      if (open !== undefined) replaceBar(row, { ...open, outcome, end: at, failure });
      else {
        // Failed before it started (its inputs did not validate, a map over a non-list): a bar of no length.
        row.bars.push({
          attempt: kind.value.attempt || row.bars.length + 1,
          outcome,
          start: at,
          end: at,
          runtime: "",
          failure,
        });
      }
      if (kind.value.willRetry) row.waits.push({ kind: "retry", start: at });
      break;
    }
    case "nodeCancelled":
      endWait(row, at);
      if (open !== undefined) replaceBar(row, { ...open, outcome: "cancelled", end: at });
      else row.note = kind.value.reason === "" ? "cancelled" : `cancelled: ${kind.value.reason}`;
      break;
    case "nodeSkipped":
      endWait(row, at);
      row.note = kind.value.reason === "" ? "skipped" : `skipped: ${kind.value.reason}`;
      break;
    default:
      break;
  }
  return next;
}

/** The end of the axis: when the execution finished, or `now` (ms since the epoch) while it runs. */
export function timelineEnd(timeline: Timeline, now: number): number {
  if (timeline.finishedAt !== undefined) return timeline.finishedAt;
  return Math.max(0, now - timeline.startedAt);
}

function openBar(row: TimelineRow): AttemptBar | undefined {
  const last = row.bars.at(-1);
  return last !== undefined && last.end === undefined ? last : undefined;
}

function replaceBar(row: TimelineRow, bar: AttemptBar): void {
  row.bars[row.bars.length - 1] = bar;
}

function endWait(row: TimelineRow, at: number): void {
  const last = row.waits.at(-1);
  if (last !== undefined && last.end === undefined) row.waits[row.waits.length - 1] = { ...last, end: at };
}

function closeOpen(row: TimelineRow, at: number, outcome: AttemptOutcome, failure?: string): TimelineRow {
  const bar = openBar(row);
  const wait = row.waits.at(-1);
  if (bar === undefined && (wait === undefined || wait.end !== undefined)) return row;
  const closed: TimelineRow = { ...row, bars: [...row.bars], waits: [...row.waits] };
  if (bar !== undefined)
    replaceBar(closed, { ...bar, outcome, end: at, ...(failure === undefined ? {} : { failure }) });
  endWait(closed, at);
  return closed;
}
