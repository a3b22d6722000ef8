import type { BlueprintGraph, GraphNode } from "../blueprint/blueprint-graph.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";

/**
 * A validated blueprint bound to runtime connections, with the chains that can run as one invocation: a run of
 * nodes on the same runtime where each node's only consumer is the next one and the next one's only producer is
 * the previous one. A chain costs one round trip to its runtime instead of one per node. Plans are computed once
 * per blueprint and reused by every execution of it.
 */
export interface ExecutionPlan {
  graph: BlueprintGraph;
  /** The connection of each node, by node index. */
  runtimes: RuntimeConnection[];
  /** For a node that heads a chain: the chain's node indices in order (itself first). */
  chains: (number[] | undefined)[];
  /** For a node inside a chain (not its head): the head's index. */
  chainHead: (number | undefined)[];
}

/** Builds the plan of a graph given the connection of each runtime by name. */
export function createExecutionPlan(
  graph: BlueprintGraph,
  connections: ReadonlyMap<string, RuntimeConnection>,
): ExecutionPlan {
  const runtimes = graph.nodes.map((node) => connections.get(node.runtime)!);
  const chains: (number[] | undefined)[] = new Array(graph.nodes.length).fill(undefined);
  const chainHead: (number | undefined)[] = new Array(graph.nodes.length).fill(undefined);
  const next = (node: GraphNode): GraphNode | undefined => {
    if (node.successors.length !== 1) return undefined;
    const successor = graph.nodes[node.successors[0]!]!;
    if (successor.predecessors.length !== 1 || successor.runtime !== node.runtime) return undefined;
    return successor;
  };
  for (const index of graph.order) {
    const node = graph.nodes[index]!;
    if (chainHead[index] !== undefined || !runtimes[index]!.supportsSteps) continue;
    const chain = [index];
    for (let successor = next(node); successor !== undefined; successor = next(successor)) {
      chain.push(successor.index);
      chainHead[successor.index] = index;
    }
    if (chain.length > 1) chains[index] = chain;
  }
  return { graph, runtimes, chains, chainHead };
}
