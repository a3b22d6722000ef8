import { Code, type ConductorClient, ConnectError } from "@conductor/sdk/client";
import { useEffect, useState } from "preact/hooks";
import {
  type AttemptBar,
  type AttemptOutcome,
  addEvent,
  emptyTimeline,
  type Timeline,
  timelineEnd,
  type WaitSpan,
} from "./execution-timeline.js";
import { formatDuration } from "./format.js";

export interface TimelineViewProps {
  client: ConductorClient;
  executionId: string;
  /** The node ids of the blueprint, in its order: nodes not dispatched yet get an empty row after the others. */
  nodeIds: readonly string[];
  /** Node types by node id, for the bars' titles. */
  types: Readonly<Record<string, string>>;
  selected: string | undefined;
  onSelect(nodeId: string | undefined): void;
}

/** How often the bars of a running execution grow. */
const TICK_MS = 250;
/** How often a broken watch stream is opened again before the timeline gives up on it. */
const WATCH_ATTEMPTS = 5;

/** The CSS state of an outcome: a retried attempt is drawn in the graph's `retrying` colour. */
const outcomeClass: Record<AttemptOutcome, string> = {
  running: "status-running",
  completed: "status-completed",
  cached: "status-cached",
  failed: "status-failed",
  retried: "status-retrying",
  cancelled: "status-cancelled",
};

/**
 * The execution as a waterfall: a row per node, a bar per attempt on a shared axis from the execution's start,
 * the waits before each attempt (queued, retry delay) drawn hatched. It reads the execution's events from the
 * start (a finished execution replays them), and grows live while the execution runs.
 */
export function TimelineView({ client, executionId, nodeIds, types, selected, onSelect }: TimelineViewProps) {
  const timeline = useTimeline(client, executionId);
  const [now, setNow] = useState(Date.now);
  const running = timeline.startedAt !== 0 && timeline.finishedAt === undefined;
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), TICK_MS);
    return () => clearInterval(timer);
  }, [running]);
  if (timeline.startedAt === 0) return <div class="empty">Waiting for the execution's events…</div>;
  const clock = Math.max(now, Date.now());
  const end = Math.max(timelineEnd(timeline, clock), 1);
  const place = (start: number, stop: number | undefined) => {
    const to = stop ?? timelineEnd(timeline, clock);
    return { left: `${(start / end) * 100}%`, width: `${(Math.max(to - start, 0) / end) * 100}%` };
  };
  const shown = new Set(timeline.rows.map((row) => row.nodeId));
  const waiting = nodeIds.filter((id) => !shown.has(id));
  return (
    <div class="timeline" data-timeline={timeline.finishedAt === undefined ? "running" : "finished"}>
      <div class="timeline-axis">
        <span>0</span>
        <span>{formatDuration(end / 2)}</span>
        <span>{formatDuration(end)}</span>
      </div>
      {timeline.rows.map((row) => (
        <div
          key={row.nodeId}
          class={`timeline-row${row.nodeId === selected ? " selected" : ""}`}
          data-node-id={row.nodeId}
        >
          <button
            type="button"
            class="timeline-label"
            onClick={() => onSelect(row.nodeId)}
            title={row.nodeId}
          >
            {row.nodeId}
          </button>
          <div class="timeline-track">
            {row.waits.map((wait) => (
              <div
                key={`${wait.kind}-${wait.start}`}
                class={`timeline-wait wait-${wait.kind}`}
                data-wait={wait.kind}
                style={place(wait.start, wait.end)}
                title={waitTitle(wait, timeline, clock)}
              />
            ))}
            {row.bars.map((bar) => (
              <button
                type="button"
                key={bar.attempt}
                class={`timeline-bar ${outcomeClass[bar.outcome]}`}
                data-attempt={bar.attempt}
                data-outcome={bar.outcome}
                style={place(bar.start, bar.end)}
                title={barTitle(row.nodeId, types[row.nodeId], bar, timeline, clock)}
                onClick={() => onSelect(row.nodeId)}
              />
            ))}
            {row.note === undefined ? null : <span class="timeline-note muted">{row.note}</span>}
          </div>
        </div>
      ))}
      {waiting.map((id) => (
        <div key={id} class={`timeline-row${id === selected ? " selected" : ""}`} data-node-id={id}>
          <button type="button" class="timeline-label" onClick={() => onSelect(id)} title={id}>
            {id}
          </button>
          <div class="timeline-track">
            <span class="timeline-note muted">
              {timeline.finishedAt === undefined ? "waiting for upstream" : "not run"}
            </span>
          </div>
        </div>
      ))}
    </div>
  );
}

/** The timeline of an execution, from its events: replayed from the first, then live until it finishes. */
function useTimeline(client: ConductorClient, executionId: string): Timeline {
  const [timeline, setTimeline] = useState(emptyTimeline);
  useEffect(() => {
    setTimeline(emptyTimeline());
    const controller = new AbortController();
    void (async () => {
      let afterSeq = 0;
      for (let attempt = 1; attempt <= WATCH_ATTEMPTS; attempt++) {
        try {
          for await (const { event } of client.watchExecution(
            { executionId, afterSeq },
            { signal: controller.signal },
          )) {
            if (event === undefined) continue;
            afterSeq = Math.max(afterSeq, event.seq);
            attempt = 1;
            setTimeline((current) => addEvent(current, event));
          }
          return;
        } catch (error) {
          // The page reports watch problems once, from the graph's own watch; this one only retries.
          if (controller.signal.aborted) return;
          if (!(error instanceof ConnectError) || error.code === Code.NotFound) return;
          await new Promise((resolve) => setTimeout(resolve, attempt * 1_000));
        }
      }
    })();
    return () => controller.abort();
  }, [client, executionId]);
  return timeline;
}

function barTitle(
  nodeId: string,
  type: string | undefined,
  bar: AttemptBar,
  timeline: Timeline,
  clock: number,
): string {
  const duration = (bar.end ?? timelineEnd(timeline, clock)) - bar.start;
  return [
    `${nodeId}${type === undefined ? "" : ` (${type})`}`,
    `attempt ${bar.attempt}: ${bar.outcome}`,
    `start +${formatDuration(bar.start)}`,
    `duration ${formatDuration(duration)}${bar.end === undefined ? " so far" : ""}`,
    ...(bar.runtime === "" ? [] : [`runtime ${bar.runtime}`]),
    ...(bar.worker === undefined ? [] : [`worker ${bar.worker}`]),
    ...(bar.failure === undefined || bar.failure === "" ? [] : [`failure: ${bar.failure}`]),
  ].join("\n");
}

function waitTitle(wait: WaitSpan, timeline: Timeline, clock: number): string {
  const duration = (wait.end ?? timelineEnd(timeline, clock)) - wait.start;
  const what = wait.kind === "retry" ? "retry delay" : "queued (dispatched, waiting to start)";
  return `${what}: ${formatDuration(duration)} from +${formatDuration(wait.start)}`;
}
