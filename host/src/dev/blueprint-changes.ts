import { stringifyJson } from "@conductor/sdk/protocol";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";

/**
 * The nodes of `after` that a re-run must run again because the edit from `before` to `after` touched them: nodes
 * added, and nodes whose definition (type, runtime, config, inputs, policies) differs. Nodes downstream of them run
 * again anyway; nodes removed have nothing to run. Without `before` every node counts as changed.
 */
export function changedNodes(before: BlueprintDocument | undefined, after: BlueprintDocument): string[] {
  const changed: string[] = [];
  for (const [id, node] of Object.entries(after.nodes)) {
    const previous = before?.nodes[id];
    if (previous === undefined || stringifyJson(previous) !== stringifyJson(node)) changed.push(id);
  }
  return changed;
}

/** Whether anything but the nodes changed (inputs, outputs, title...): the execution's outputs may differ. */
export function documentChanged(before: BlueprintDocument | undefined, after: BlueprintDocument): boolean {
  const { nodes: _before, ...restBefore } = before ?? { nodes: {} };
  const { nodes: _after, ...restAfter } = after;
  return stringifyJson(restBefore) !== stringifyJson(restAfter);
}
