import { create } from "@bufbuild/protobuf";
import { type WatchExecutionResponse, WatchExecutionResponseSchema } from "@conductor/sdk/client";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Conductor } from "../conductor.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { toConnectError } from "./api-errors.js";
import { toApiEvent } from "./event-mapping.js";

/** How long a watch waits for an event before it looks at the record again. */
const QUIET_MS = 1_000;

/**
 * The events of an execution as a stream (WatchExecution): those recorded after `afterSeq` (a watcher that comes
 * late gets what happened so far), then live ones, ending after `execution.finished`, or at once when the execution
 * had finished and everything after `afterSeq` was sent. When `signal` aborts (the caller left, or the server shuts
 * down) it ends with UNAVAILABLE.
 *
 * An execution can be recorded as running without running in this host: run by another process on the same
 * journal, or interrupted by a crash and not resumed yet. The subscription then passes its events on as the other
 * process records them (the journal's files are watched). As a safety net (a file system that cannot be watched,
 * an execution resumed here later), after a quiet second the watch subscribes again, which replays whatever was
 * recorded meanwhile (and joins the live events if it now runs here), and ends once the record says it finished.
 * Events are passed on once each, by `seq`.
 */
export async function* watchExecution(
  conductor: Conductor,
  executionId: string,
  afterSeq: number,
  signal: AbortSignal,
): AsyncGenerator<WatchExecutionResponse> {
  const queue: ExecutionEvent[] = [];
  let lastSeq = afterSeq;
  let finished = false;
  let wake: (() => void) | undefined;
  const listener = (event: ExecutionEvent) => {
    if (event.seq <= lastSeq) return;
    lastSeq = event.seq;
    queue.push(event);
    if (event.type === "execution.finished") finished = true;
    wake?.();
  };
  const subscribe = () => {
    try {
      return conductor.executions.subscribe(executionId, listener, { afterSeq: lastSeq });
    } catch (error) {
      throw toConnectError(error);
    }
  };
  const recordedAsFinished = () => {
    const status = conductor.executions.get(executionId)?.status;
    return status !== undefined && status !== "running";
  };
  let unsubscribe = subscribe();
  // Finished before this watcher came, and nothing after `afterSeq` is left to send.
  let ended = recordedAsFinished();
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      while (queue.length > 0) {
        const event = queue.shift()!;
        yield create(WatchExecutionResponseSchema, { event: toApiEvent(event) });
        if (event.type === "execution.finished") return;
      }
      if (ended || finished) return;
      if (signal.aborted) {
        // The caller left (then nobody reads this), or the server is shutting down: say so, so that a client can
        // tell this end from a finished execution and watch again elsewhere with `after_seq`.
        throw new ConnectError(
          `the server is shutting down; watch again with after_seq ${lastSeq} to resume`,
          Code.Unavailable,
        );
      }
      const woken = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), QUIET_MS);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      wake = undefined;
      if (!woken && !signal.aborted) {
        const previous = unsubscribe;
        unsubscribe = subscribe();
        previous();
        ended = queue.length === 0 && recordedAsFinished();
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    unsubscribe();
  }
}
