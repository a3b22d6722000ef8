import type { FailureInfo } from "@conductor/sdk/protocol";
import { type BlueprintGraph, ERROR_PORT } from "../blueprint/blueprint-graph.js";
import type { ExecutionEvent } from "./execution-events.js";
import type { ResumeState } from "./execution-types.js";
import { failureAsJson } from "./node-inputs.js";

/**
 * Rebuilds what an execution had finished from its journaled events, so that resuming it runs only what did not
 * finish. A node whose completion was recorded keeps its outputs and never runs again; a node that was running
 * when the host died runs again (its attempt count continues). Map nodes restart from their first item.
 */
export function resumeStateOf(graph: BlueprintGraph, events: readonly ExecutionEvent[]): ResumeState {
  const finished = new Map<number, ResumeState["finished"][number]>();
  const attempts = new Map<number, number>();
  let lastSeq = 0;
  let failed: { index: number; failure: FailureInfo } | undefined;
  for (const event of events) {
    lastSeq = Math.max(lastSeq, event.seq);
    if (!("nodeId" in event)) continue;
    const node = graph.byId.get(event.nodeId);
    if (node === undefined) continue;
    const index = node.index;
    switch (event.type) {
      case "node.started":
        attempts.set(index, event.attempt);
        break;
      case "node.completed":
        finished.set(index, {
          index,
          status: event.cached === true ? "cached" : "completed",
          outputs: event.outputs,
          attempt: attempts.get(index) ?? 1,
        });
        break;
      case "node.skipped":
        finished.set(index, { index, status: "skipped", attempt: 0 });
        break;
      case "node.failed":
        if (event.willRetry === true) break;
        if (event.handling === "continue" || event.handling === "route") {
          finished.set(index, {
            index,
            status: "failed",
            attempt: event.attempt,
            failure: event.failure,
            ...(event.handling === "route"
              ? { outputs: { [ERROR_PORT]: failureAsJson(event.failure) } }
              : {}),
          });
        } else {
          failed ??= { index, failure: event.failure };
        }
        break;
      default:
        break;
    }
  }
  for (const index of finished.keys()) attempts.delete(index);
  return { lastSeq, finished: [...finished.values()], attempts, ...(failed === undefined ? {} : { failed }) };
}

/**
 * What a re-run from `fromNode` (or from several nodes) may reuse: the recorded results of every node that is
 * neither one of them nor downstream of one. Their events are replayed into the new execution as cached
 * completions. A node the recorded execution did not have (the blueprint was edited since) has no result to reuse
 * and runs.
 */
export function rerunStateOf(
  graph: BlueprintGraph,
  events: readonly ExecutionEvent[],
  fromNode: string | readonly string[],
): ResumeState {
  const starts = typeof fromNode === "string" ? [fromNode] : fromNode;
  const rerun = new Set<number>(starts.map((node) => graph.byId.get(node)!.index));
  for (const index of graph.order) {
    if (graph.nodes[index]!.predecessors.some((predecessor) => rerun.has(predecessor))) rerun.add(index);
  }
  const recorded = resumeStateOf(graph, events);
  return {
    lastSeq: 0,
    finished: recorded.finished.filter(
      (entry) => !rerun.has(entry.index) && (entry.status === "completed" || entry.status === "cached"),
    ),
    attempts: new Map(),
    replay: true,
  };
}
