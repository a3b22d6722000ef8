import type { BlueprintGraph, GraphNode } from "../blueprint/blueprint-graph.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import {
  findStreams,
  type ProducerStreams,
  type StreamInput,
  streamInputsOf,
} from "../streaming/stream-plan.js";
import { isStreamOutput } from "../streaming/stream-wiring.js";
import { findCheckedInputs } from "./checked-inputs.js";

/**
 * A validated blueprint bound to runtime connections, with the chains that can run as one invocation: a run of
 * nodes on the same runtime where each node's only consumer is the next one, the next one's only producer is the
 * previous one, and what passes between them is always produced. A chain costs one round trip to its runtime
 * instead of one per node. Plans are computed once per blueprint and reused by every execution of it.
 */
export interface ExecutionPlan {
  graph: BlueprintGraph;
  /** The connection of each node, by node index. */
  runtimes: RuntimeConnection[];
  /** For a node that heads a chain: the chain's node indices in order (itself first). */
  chains: (number[] | undefined)[];
  /** By node index: the input ports whose values arrive already proved valid (scheduler/checked-inputs.ts). */
  checkedInputs: (ReadonlySet<string> | undefined)[];
  /** By node index: its stream outputs and their readers, for a node that has some (docs/streaming.md). */
  streams: (ProducerStreams | undefined)[];
  /** By node index: its inputs that read a stream item by item. */
  streamInputs: (Map<string, StreamInput> | undefined)[];
}

/** Options of {@link createExecutionPlan}. */
export interface PlanOptions {
  /**
   * Executions are journaled: a node with side effects must not start before its predecessors' results are
   * durable, which a chain inside a runtime cannot wait for; so only deterministic nodes join chains.
   */
  durable: boolean;
}

/** Builds the plan of a graph given the connection of each runtime by name. */
export function createExecutionPlan(
  graph: BlueprintGraph,
  connections: ReadonlyMap<string, RuntimeConnection>,
  options: PlanOptions = { durable: false },
): ExecutionPlan {
  const runtimes = graph.nodes.map((node) => connections.get(node.runtime)!);
  const chains: (number[] | undefined)[] = new Array(graph.nodes.length).fill(undefined);
  const member = new Array<boolean>(graph.nodes.length).fill(false);
  const plain = (node: GraphNode) =>
    node.role === "step" &&
    node.policy.when === undefined &&
    node.policy.map === undefined &&
    !node.policy.cache &&
    node.policy.onError === "fail" &&
    node.policy.heartbeatTimeoutMs === 0 &&
    (!options.durable || node.nodeType.flags?.deterministic === true);
  // A node with stream outputs runs alone: its invocation goes on after its streams were handed to the host.
  const streamsOut = (node: GraphNode) => node.nodeType.outputs.some((port) => port.stream);
  const next = (node: GraphNode): GraphNode | undefined => {
    if (node.successors.length !== 1 || node.policy.map !== undefined || streamsOut(node)) return undefined;
    const successor = graph.nodes[node.successors[0]!]!;
    if (
      successor.predecessors.length !== 1 ||
      successor.runtime !== node.runtime ||
      !plain(successor) ||
      streamsOut(successor)
    )
      return undefined;
    for (const binding of Object.values(successor.inputs)) {
      if (binding.kind === "node" && !node.alwaysProduced.has(binding.port)) return undefined;
      // A stream goes through the host, which paces it and records its progress.
      if (binding.kind === "node" && isStreamOutput(node.nodeType, binding.port)) return undefined;
    }
    return successor;
  };
  for (const index of graph.order) {
    if (member[index] || !runtimes[index]!.supportsSteps) continue;
    const chain = [index];
    for (let successor = next(graph.nodes[index]!); successor !== undefined; successor = next(successor)) {
      chain.push(successor.index);
      member[successor.index] = true;
    }
    if (chain.length > 1) chains[index] = chain;
  }
  const streams = findStreams(graph);
  return {
    graph,
    runtimes,
    chains,
    checkedInputs: findCheckedInputs(graph, runtimes),
    streams,
    streamInputs: streamInputsOf(streams, graph.nodes.length),
  };
}
