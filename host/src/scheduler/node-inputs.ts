import { type FailureInfo, toLive } from "@conductor/sdk/protocol";
import type { GraphNode } from "../blueprint/blueprint-graph.js";

/** Where the values of a node's inputs come from while an execution runs. */
export interface InputSources {
  /** The outputs of node `index`, or undefined when it produced none (skipped, failed, not run). */
  outputsOf(index: number): Record<string, unknown> | undefined;
  /** The id of node `index`, for messages. */
  idOf(index: number): string;
  blueprintInput(name: string): unknown;
}

/** The inputs of a node that will run, or why it is skipped. */
export type InputDecision = { run: true; inputs: Record<string, unknown> } | { run: false; reason: string };

/**
 * Resolves a node's inputs from its bindings and decides whether it can run. A port a finished node did not
 * produce is absent (an untaken branch, a skipped or failed-and-continued node). A node is skipped when an input
 * it requires is absent, or when it reads other nodes and none of them produced what it reads; a join whose
 * optional inputs are partly absent runs with what ran.
 */
export function decideInputs(node: GraphNode, sources: InputSources): InputDecision {
  const inputs: Record<string, unknown> = {};
  let nodeBindings = 0;
  let nodeValues = 0;
  for (const port in node.inputs) {
    const binding = node.inputs[port]!;
    let value: unknown;
    if (binding.kind === "node") {
      nodeBindings++;
      value = sources.outputsOf(binding.node)?.[binding.port];
      if (value === undefined) {
        if (node.requiredInputs.has(port)) {
          return {
            run: false,
            reason: `input "${port}" has no value: ${absenceOf(sources, binding.node, binding.port)}`,
          };
        }
        continue;
      }
      nodeValues++;
    } else if (binding.kind === "input") {
      value = sources.blueprintInput(binding.name);
      if (value === undefined) continue;
    } else {
      value = binding.value;
    }
    inputs[port] = value;
  }
  if (nodeBindings > 0 && nodeValues === 0) {
    return { run: false, reason: "none of the nodes it reads from produced a value" };
  }
  return { run: true, inputs };
}

function absenceOf(sources: InputSources, index: number, port: string): string {
  const outputs = sources.outputsOf(index);
  return outputs === undefined
    ? `node "${sources.idOf(index)}" did not run to completion`
    : `node "${sources.idOf(index)}" did not produce "${port}"`;
}

/** A failure as the JSON value of a node's `error` port (`onError: route`). */
export function failureAsJson(failure: FailureInfo): Record<string, unknown> {
  return {
    message: failure.message,
    type: failure.type,
    retryable: failure.retryable,
    ...(failure.details === undefined ? {} : { details: toLive(failure.details) }),
  };
}
