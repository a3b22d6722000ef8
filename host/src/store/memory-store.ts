import type { ExecutionEvent } from "../scheduler/execution-events.js";
import {
  applyEvent,
  type ExecutionDetail,
  type ExecutionFilter,
  type ExecutionStore,
  type ExecutionSummary,
  summaryOf,
} from "./execution-store.js";

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Most executions kept; the oldest finished ones are dropped first. Default 1000. */
  maxExecutions?: number;
}

/** An {@link ExecutionStore} in memory: history for a server without a durable journal, lost on exit. */
export function createMemoryStore(options: MemoryStoreOptions = {}): ExecutionStore {
  const maxExecutions = options.maxExecutions ?? 1000;
  const records = new Map<string, { detail: ExecutionDetail; events: ExecutionEvent[] }>();
  return {
    append(event) {
      if (event.type === "execution.started") {
        const detail = applyEvent(undefined, event)!;
        records.set(event.executionId, { detail, events: [event] });
        if (records.size > maxExecutions) {
          for (const [id, record] of records) {
            if (record.detail.status !== "running") {
              records.delete(id);
              break;
            }
          }
        }
        return;
      }
      const record = records.get(event.executionId);
      if (record === undefined) return;
      record.events.push(event);
      applyEvent(record.detail, event);
    },
    list(filter: ExecutionFilter = {}): ExecutionSummary[] {
      // What is in memory is run by this process: never an orphan.
      if (filter.orphaned === true) return [];
      const all = [...records.values()]
        .map((record) => record.detail)
        .filter(
          (detail) =>
            (filter.blueprintId === undefined || detail.blueprintId === filter.blueprintId) &&
            (filter.status === undefined || detail.status === filter.status),
        )
        .sort((a, b) => b.startedAt - a.startedAt);
      return all.slice(0, filter.limit ?? 100).map(summaryOf);
    },
    get: (executionId) => records.get(executionId)?.detail,
    events: (executionId, afterSeq = 0) =>
      (records.get(executionId)?.events ?? []).filter((event) => event.seq > afterSeq),
    close: async () => {},
  };
}
