import type { FailureInfo } from "@conductor/sdk/protocol";
import { type BlueprintGraph, ERROR_PORT } from "../blueprint/blueprint-graph.js";
import { isStreamOutput } from "../streaming/stream-wiring.js";
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
  for (const entry of restartStreamSegments(graph, finished)) attempts.set(entry.index, entry.attempt);
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
  const reused = new Map(
    recorded.finished
      .filter(
        (entry) => !rerun.has(entry.index) && (entry.status === "completed" || entry.status === "cached"),
      )
      .map((entry) => [entry.index, entry]),
  );
  restartStreamSegments(graph, reused);
  return { lastSeq: 0, finished: [...reused.values()], attempts: new Map(), replay: true };
}

/**
 * A stream's items are not journaled (only its counts, docs/streaming.md), so a node that runs again and reads a
 * stream can read it only from a producer that runs again too: takes out of `finished` every producer whose stream
 * is read (item by item or collected) by a node that will run, and gives the entries it took out. Consumers are
 * seen before their producers (reverse order), so a chain of stream transforms restarts whole, from the first
 * producer's first item.
 */
function restartStreamSegments(
  graph: BlueprintGraph,
  finished: Map<number, ResumeState["finished"][number]>,
): ResumeState["finished"][number][] {
  const restarted: ResumeState["finished"][number][] = [];
  for (let position = graph.order.length - 1; position >= 0; position--) {
    const producer = graph.nodes[graph.order[position]!]!;
    const entry = finished.get(producer.index);
    if (entry === undefined || (entry.status !== "completed" && entry.status !== "cached")) continue;
    const readByOneThatRuns = producer.successors.some((successor) => {
      if (finished.has(successor)) return false;
      return Object.values(graph.nodes[successor]!.inputs).some(
        (binding) =>
          binding.kind === "node" &&
          binding.node === producer.index &&
          isStreamOutput(producer.nodeType, binding.port),
      );
    });
    if (!readByOneThatRuns) continue;
    finished.delete(producer.index);
    restarted.push(entry);
  }
  return restarted;
}
