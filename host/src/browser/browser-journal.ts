import type { ExecutionEvent } from "../scheduler/execution-events.js";
import type { Durability } from "../scheduler/execution-types.js";

/** What the journal keeps of an execution besides its events: the blueprint it runs, to resume it from its id. */
export interface JournaledExecution {
  executionId: string;
  blueprintId: string;
  /** The blueprint's text (YAML or JSON) or document, as it was given to the engine. */
  blueprint: string | object;
  /** "running" until its `execution.finished` event is recorded. */
  status: "running" | "completed" | "failed" | "cancelled";
}

/**
 * The journal of a page's engine: every event of every execution, kept where a reload finds it, so that an
 * execution that was running when the page went away resumes without re-running the nodes it had finished. Two
 * implementations: {@link createMemoryJournal} (lost with the page) and `createIndexedDbJournal` (kept).
 *
 * Writes are batched: `append` never waits, and `flush` (the {@link Durability} barrier the scheduler uses before
 * a node with side effects) resolves once everything appended so far is stored.
 */
export interface BrowserJournal extends Durability {
  /** Records an execution before its first event. */
  begin(execution: JournaledExecution): void;
  append(event: ExecutionEvent): void;
  /** Every recorded event of an execution, in order. */
  events(executionId: string): Promise<ExecutionEvent[]>;
  /** An execution as {@link begin} recorded it, with its status now. */
  execution(executionId: string): Promise<JournaledExecution | undefined>;
  /** The executions recorded as running: what a reloaded page resumes. */
  unfinished(): Promise<JournaledExecution[]>;
  close(): Promise<void>;
}

/** A {@link BrowserJournal} in memory, for pages that need no resumption (and for tests). */
export function createMemoryJournal(): BrowserJournal {
  const executions = new Map<string, JournaledExecution>();
  const events = new Map<string, ExecutionEvent[]>();
  return {
    pending: false,
    flush: () => Promise.resolve(),
    begin(execution) {
      executions.set(execution.executionId, { ...execution });
      if (!events.has(execution.executionId)) events.set(execution.executionId, []);
    },
    append(event) {
      events.get(event.executionId)?.push(event);
      const execution = executions.get(event.executionId);
      if (execution !== undefined && event.type === "execution.finished") execution.status = event.status;
    },
    events: async (executionId) => [...(events.get(executionId) ?? [])],
    execution: async (executionId) => {
      const execution = executions.get(executionId);
      return execution === undefined ? undefined : { ...execution };
    },
    unfinished: async () => [...executions.values()].filter((execution) => execution.status === "running"),
    close: async () => {},
  };
}
