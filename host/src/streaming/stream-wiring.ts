import { FEATURES, type NodeType } from "@conductor/sdk/protocol";
import type { Binding, GraphNode } from "../blueprint/blueprint-graph.js";
import { encodingsOf } from "../blueprint/schema-compatibility.js";

/** A diagnostic about stream wiring: where, and what is wrong. */
export interface StreamWiringIssue {
  message: string;
  suggestion?: string;
}

/**
 * A node whose type has stream ports on a runtime that does not announce the `stream.credits` feature: its streams
 * cannot cross the ABI (no child runtime serves them yet, docs/streaming.md); or one that maps over a list (each
 * element would have its own streams). Gives the problem, or undefined; a runtime whose features are not known is
 * not judged.
 */
export function checkStreamRuntime(
  node: GraphNode,
  features: readonly string[] | undefined,
): StreamWiringIssue | undefined {
  const ports = [...node.nodeType.inputs, ...node.nodeType.outputs].filter((port) => port.stream);
  if (ports.length === 0) return undefined;
  if (node.policy?.map !== undefined) {
    return {
      message: `node "${node.id}" (${node.type}) has stream ports (${ports.map((port) => port.name).join(", ")}) and maps over a list; a mapped node cannot stream`,
      suggestion: "remove map: from the node",
    };
  }
  if (features === undefined || features.includes(FEATURES.streams)) return undefined;
  return {
    message: `node "${node.id}" (${node.type}) has stream ports (${ports.map((port) => port.name).join(", ")}), but runtime "${node.runtime}" did not announce the feature "${FEATURES.streams}", so it cannot carry streams (docs/protocol.md §3.5)`,
    suggestion:
      "run the node type on a runtime that serves streams (the host's own process, the Node sidecar, Python, Rust), or use ports holding one value",
  };
}

/** Whether output `port` of a node type is a stream. */
export function isStreamOutput(nodeType: NodeType, port: string): boolean {
  return nodeType.outputs.some((output) => output.name === port && output.stream);
}

/**
 * Checks one binding against the stream rules (docs/streaming.md): a stream output feeds a stream input item by
 * item, or an input taking one value when the binding says `collect: true`; a stream input reads only a stream
 * output; nodes reading or producing a stream are not cached or mapped over it. Gives the problem, or undefined.
 * `label` names the source as the user wrote it, e.g. `"read.lines"`.
 */
export function checkStreamBinding(
  node: GraphNode,
  input: string,
  binding: Binding,
  nodes: readonly GraphNode[],
  label: string,
): StreamWiringIssue | undefined {
  const target = node.nodeType.inputs.find((port) => port.name === input);
  const targetStream = target?.stream === true;
  const source = binding.kind === "node" ? nodes[binding.node] : undefined;
  const sourceStream =
    source !== undefined && binding.kind === "node" && isStreamOutput(source.nodeType, binding.port);
  const collect = binding.kind === "node" && binding.collect === true;
  const reference = binding.kind === "node" ? `"${source!.id}.${binding.port}"` : label;
  if (collect && !sourceStream) {
    return {
      message: `collect: true reads a stream into one list, but ${label} is not a stream output`,
      suggestion: "remove collect: true",
    };
  }
  if (targetStream && collect) {
    return {
      message: `input "${input}" of "${node.type}" is a stream, so it reads ${label} item by item; collect: true is for inputs that take one value`,
      suggestion: "remove collect: true",
    };
  }
  if (targetStream && !sourceStream) {
    return {
      message: `input "${input}" of "${node.type}" is a stream of items, but ${label} gives one value; expected a stream output`,
    };
  }
  if (sourceStream && !targetStream && !collect) {
    return {
      message: `input "${input}" of "${node.type}" takes one value, but ${label} is a stream of items`,
      suggestion: `bind it as { from: ${reference}, collect: true } to read every item as one list once the stream ended, or read it with a stream input`,
    };
  }
  if (sourceStream && !collect && node.policy.map !== undefined && node.policy.map.over === input) {
    return {
      message: `node "${node.id}" maps over input "${input}", which reads a stream; mapping takes a list`,
    };
  }
  if (sourceStream && (node.policy.cache || source!.policy.cache)) {
    return {
      message: `cache: true is not available on a stream: ${label} is a stream read by node "${node.id}"`,
      suggestion: "remove cache: true from both nodes",
    };
  }
  return undefined;
}

/**
 * What an input collecting a stream (`collect: true`) is given, from the schemas of the stream's items and of the
 * input: `"table"` when the items are Arrow tables (record batches) and the input takes a table (the batches are
 * concatenated into one table, streaming/collected-tables.ts), `"list"` when the items are tables but the input
 * takes something else (the list of tables), undefined when the items are not tables (the list of items, as for
 * any stream).
 */
export function collectedTables(
  itemSchema: Record<string, unknown>,
  inputSchema: Record<string, unknown>,
): "table" | "list" | undefined {
  const items = encodingsOf(itemSchema);
  if (items === "any" || items.size !== 1 || !items.has("arrow")) return undefined;
  const input = encodingsOf(inputSchema);
  return input !== "any" && input.has("arrow") ? "table" : "list";
}

/**
 * A stream of Arrow batches collected into a list of tables for a node whose runtime takes values in their wire
 * form (a child runtime): a list of tables has no wire form (docs/protocol.md §3.2), so the binding is refused.
 * `collectedSchema`: the schema of what the input collects (a list, or one table); `liveValues`: whether the node's
 * runtime runs in the host's process (a runtime not known is not judged).
 */
export function checkCollectedTables(
  node: GraphNode,
  input: string,
  binding: Binding,
  nodes: readonly GraphNode[],
  collectedSchema: Record<string, unknown> | undefined,
  liveValues: boolean | undefined,
): StreamWiringIssue | undefined {
  if (binding.kind !== "node" || binding.collect !== true || liveValues !== false) return undefined;
  const items = collectedSchema?.items;
  if (collectedSchema?.type !== "array" || typeof items !== "object" || items === null) return undefined;
  if (collectedTables(items as Record<string, unknown>, collectedSchema) === undefined) return undefined;
  return {
    message: `input "${input}" of node "${node.id}" (${node.type}) collects stream "${nodes[binding.node]!.id}.${binding.port}" of Arrow record batches into a list of tables, but runtime "${node.runtime}" takes values in their wire form, where a list of tables has none; expected the input to take one Arrow table`,
    suggestion: `declare input "${input}" as one Arrow table (the batches are then concatenated into it), or read the stream item by item with a stream input`,
  };
}
