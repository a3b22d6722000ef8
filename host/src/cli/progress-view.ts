import { styleText } from "node:util";
import type { ExecutionEvent, NodeStatus } from "../scheduler/execution-events.js";

/** Shows an execution's progress: a live table in a terminal, one line per event elsewhere. */
export interface ProgressView {
  onEvent(event: ExecutionEvent): void;
  /** Draws the final state and stops redrawing. */
  close(): void;
}

interface Row {
  id: string;
  status: NodeStatus;
  runtime: string;
  startedAt?: number;
  durationMs?: number;
  note: string;
}

const SYMBOLS: Record<NodeStatus, string> = {
  pending: "·",
  queued: "○",
  running: "◐",
  completed: "✓",
  cached: "✓",
  failed: "✗",
  cancelled: "⊘",
  skipped: "↷",
};

const COLORS: Record<NodeStatus, Parameters<typeof styleText>[0]> = {
  pending: "gray",
  queued: "gray",
  running: "cyan",
  completed: "green",
  cached: "blue",
  failed: "red",
  cancelled: "yellow",
  skipped: "gray",
};

/** Creates the view for a stream: live when it is a terminal, plain lines otherwise. */
export function createProgressView(
  stream: NodeJS.WriteStream,
  nodeIds: readonly string[],
  runtimes: Record<string, string>,
): ProgressView {
  return stream.isTTY ? new LiveView(stream, nodeIds, runtimes) : new LineView(stream);
}

class LiveView implements ProgressView {
  private readonly rows: Row[];
  private readonly byId = new Map<string, Row>();
  private drawnLines = 0;
  private readonly timer: NodeJS.Timeout;
  private header = "";

  constructor(
    private readonly stream: NodeJS.WriteStream,
    nodeIds: readonly string[],
    runtimes: Record<string, string>,
  ) {
    this.rows = nodeIds.map((id) => ({
      id,
      status: "pending" as const,
      runtime: runtimes[id] ?? "",
      note: "",
    }));
    for (const row of this.rows) this.byId.set(row.id, row);
    this.timer = setInterval(() => this.draw(), 80);
    this.timer.unref();
  }

  onEvent(event: ExecutionEvent): void {
    if (event.type === "execution.started")
      this.header = `execution ${event.executionId} of ${event.blueprintId}`;
    if (!("nodeId" in event)) return;
    const row = this.byId.get(event.nodeId);
    if (row === undefined) return;
    switch (event.type) {
      case "node.queued":
        row.status = "queued";
        break;
      case "node.started":
        row.status = "running";
        row.startedAt = event.at;
        row.note = event.attempt > 1 ? `attempt ${event.attempt}` : "";
        break;
      case "node.progress":
        row.note = `${event.fraction >= 0 ? `${Math.round(event.fraction * 100)}% ` : ""}${event.message}`;
        break;
      case "node.log":
        row.note = event.message;
        break;
      case "node.completed":
        row.status = event.cached === true ? "cached" : "completed";
        row.durationMs = event.durationMs;
        row.note = event.cached === true ? "from cache" : "";
        break;
      case "node.failed":
        row.status = event.willRetry === true ? "queued" : "failed";
        row.note = `${event.willRetry === true ? `attempt ${event.attempt} failed, retrying in ${event.retryInMs} ms: ` : ""}${event.failure.message.split("\n")[0] ?? ""}`;
        break;
      case "node.cancelled":
        row.status = "cancelled";
        row.note = event.reason;
        break;
      case "node.skipped":
        row.status = "skipped";
        row.note = event.reason;
        break;
      default:
        break;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.draw();
  }

  private draw(): void {
    const width = Math.max(...this.rows.map((row) => row.id.length), 4);
    const now = Date.now();
    const lines = [styleText("bold", this.header)];
    for (const row of this.rows) {
      const elapsed =
        row.durationMs !== undefined
          ? formatMs(row.durationMs)
          : row.status === "running" && row.startedAt !== undefined
            ? formatMs(now - row.startedAt)
            : "";
      const columns = (this.stream.columns ?? 100) - width - 30;
      lines.push(
        `${styleText(COLORS[row.status], SYMBOLS[row.status])} ${row.id.padEnd(width)}  ${styleText("gray", row.runtime.padEnd(8))} ${elapsed.padStart(9)}  ${styleText("gray", row.note.slice(0, Math.max(10, columns)))}`,
      );
    }
    let output = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : "";
    for (const line of lines) output += `\x1b[2K${line}\n`;
    this.stream.write(output);
    this.drawnLines = lines.length;
  }
}

class LineView implements ProgressView {
  constructor(private readonly stream: NodeJS.WriteStream) {}

  onEvent(event: ExecutionEvent): void {
    const time = new Date(event.at).toISOString().slice(11, 23);
    const line = describe(event);
    if (line !== undefined) this.stream.write(`${time} ${line}\n`);
  }

  close(): void {}
}

function describe(event: ExecutionEvent): string | undefined {
  switch (event.type) {
    case "execution.started":
      return `execution ${event.executionId} of ${event.blueprintId} started`;
    case "node.started":
      return `${event.nodeId} started on ${event.runtime}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ""}`;
    case "node.progress":
      return `${event.nodeId} ${event.fraction >= 0 ? `${Math.round(event.fraction * 100)}% ` : ""}${event.message}`;
    case "node.log":
      return `${event.nodeId} ${event.level}: ${event.message}`;
    case "node.completed":
      return event.cached === true
        ? `${event.nodeId} completed from the cache`
        : `${event.nodeId} completed in ${formatMs(event.durationMs)}`;
    case "node.failed":
      return event.willRetry === true
        ? `${event.nodeId} attempt ${event.attempt} failed, retrying in ${event.retryInMs} ms: ${event.failure.message}`
        : `${event.nodeId} failed${event.handling === "continue" ? " (continuing without it)" : event.handling === "route" ? " (routed to its error port)" : ""}: ${event.failure.message}`;
    case "node.cancelled":
      return `${event.nodeId} cancelled: ${event.reason}`;
    case "node.skipped":
      return `${event.nodeId} skipped: ${event.reason}`;
    case "execution.finished":
      return `execution ${event.status} in ${formatMs(event.durationMs)}${(event.compensations ?? []).map((c) => `\n  compensation ${c.nodeId} (for ${c.compensates}) ${c.status}`).join("")}`;
    default:
      return undefined;
  }
}

/** Formats milliseconds for people: 850 µs, 12.3 ms, 4.56 s. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
