import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ExecutionSummary } from "@conductor/sdk/client";
import { executionStatusName } from "./execution-state.js";
import { formatDuration, formatTime } from "./format.js";
import { lineageNotes } from "./lineage.js";

export interface HistoryListProps {
  executions: ExecutionSummary[];
  current: string | undefined;
  onOpen(executionId: string): void;
}

/** Past and running executions, the newest first; opening one shows its graph in its final (or live) state. */
export function HistoryList({ executions, current, onOpen }: HistoryListProps) {
  if (executions.length === 0) return <p class="muted">No executions yet.</p>;
  return (
    <ol class="history">
      {executions.map((execution) => {
        const status = executionStatusName(execution.status);
        const notes = lineageNotes(execution);
        return (
          <li key={execution.executionId}>
            <button
              type="button"
              class={execution.executionId === current ? "current" : ""}
              data-execution-id={execution.executionId}
              onClick={() => onOpen(execution.executionId)}
            >
              <span class={`dot status-${status}`} aria-hidden="true" />
              <span class="history-blueprint">{execution.blueprintId}</span>
              <span class="muted">
                {execution.startedAt === undefined ? "" : formatTime(timestampMs(execution.startedAt))}
                {status === "running"
                  ? " · running"
                  : ` · ${status} · ${formatDuration(execution.durationMs)}`}
              </span>
              {notes.length === 0 ? null : <span class="muted history-lineage">{notes.join(" · ")}</span>}
            </button>
          </li>
        );
      })}
    </ol>
  );
}
