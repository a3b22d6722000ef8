import { parseBlueprintText } from "../blueprint/load-blueprint.js";
import { stableJson } from "./code-identity.js";
import type { Deployment } from "./deployment-store.js";

/** What changed from one version of a blueprint to another, by name. */
export interface DeploymentDiff {
  blueprintId: string;
  from: number;
  to: number;
  nodes: { added: string[]; removed: string[]; changed: string[] };
  inputs: { added: string[]; removed: string[]; changed: string[] };
  outputs: { added: string[]; removed: string[]; changed: string[] };
  /** Runtimes whose code identity differs (or that only one version uses). */
  code: string[];
  /** Sub-blueprints the versions pin, by id: added, removed, or pinned with another document. */
  subBlueprints: { added: string[]; removed: string[]; changed: string[] };
  /** Top-level fields other than nodes, inputs and outputs that differ (title, description, ...). */
  other: string[];
}

function compare(
  a: Record<string, unknown> | undefined,
  b: Record<string, unknown> | undefined,
): { added: string[]; removed: string[]; changed: string[] } {
  const left = a ?? {};
  const right = b ?? {};
  return {
    added: Object.keys(right)
      .filter((key) => !(key in left))
      .sort(),
    removed: Object.keys(left)
      .filter((key) => !(key in right))
      .sort(),
    changed: Object.keys(left)
      .filter((key) => key in right && stableJson(left[key]) !== stableJson(right[key]))
      .sort(),
  };
}

/** Compares two versions of one blueprint: the nodes, inputs and outputs that were added, removed or changed. */
export async function diffDeployments(from: Deployment, to: Deployment): Promise<DeploymentDiff> {
  const [a, b] = await Promise.all([
    parseBlueprintText(from.document, `version ${from.version}`),
    parseBlueprintText(to.document, `version ${to.version}`),
  ]);
  const left = a.document as unknown as Record<string, unknown>;
  const right = b.document as unknown as Record<string, unknown>;
  const code = compare(from.code, to.code);
  const pinned = async (deployment: Deployment) =>
    Object.fromEntries(
      await Promise.all(
        Object.entries(deployment.subBlueprints).map(
          async ([id, pin]) => [id, (await parseBlueprintText(pin.document, pin.from)).document] as const,
        ),
      ),
    );
  const top = compare(
    Object.fromEntries(Object.entries(left).filter(([key]) => !["nodes", "inputs", "outputs"].includes(key))),
    Object.fromEntries(
      Object.entries(right).filter(([key]) => !["nodes", "inputs", "outputs"].includes(key)),
    ),
  );
  return {
    blueprintId: to.blueprintId,
    from: from.version,
    to: to.version,
    nodes: compare(
      left.nodes as Record<string, unknown> | undefined,
      right.nodes as Record<string, unknown> | undefined,
    ),
    inputs: compare(
      left.inputs as Record<string, unknown> | undefined,
      right.inputs as Record<string, unknown> | undefined,
    ),
    outputs: compare(
      left.outputs as Record<string, unknown> | undefined,
      right.outputs as Record<string, unknown> | undefined,
    ),
    code: [...code.added, ...code.removed, ...code.changed].sort(),
    subBlueprints: compare(await pinned(from), await pinned(to)),
    other: [...top.added, ...top.removed, ...top.changed].sort(),
  };
}
