import { create } from "@bufbuild/protobuf";
import {
  type NodeType as ApiNodeType,
  type Blueprint,
  BlueprintSchema,
  type GraphEdge,
  type GraphNode,
  NodeTypeSchema,
  type Port,
} from "@conductor/sdk/client";
import type { BindingDocument, BlueprintNodeDocument } from "../blueprint/blueprint-schema.js";
import type { LoadedBlueprint } from "../blueprint/load-blueprint.js";
import type { NodeTypeEntry } from "../conductor.js";
import type { Diagnostic } from "../errors.js";
import { jsonText } from "./json-text.js";

/** The pseudo node that blueprint inputs come from in a drawn graph. */
export const INPUTS_NODE = "inputs";
/** The pseudo node that blueprint outputs go to in a drawn graph. */
export const OUTPUTS_NODE = "outputs";

/** The API form of a node type. */
export function toApiNodeType(entry: NodeTypeEntry): ApiNodeType {
  const { nodeType } = entry;
  return create(NodeTypeSchema, {
    type: nodeType.type,
    version: nodeType.version,
    runtime: entry.runtime,
    language: entry.language,
    title: nodeType.title,
    description: nodeType.description,
    configSchemaJson: nodeType.configSchema,
    inputs: nodeType.inputs.map((port) => ({
      name: port.name,
      schemaJson: port.schema,
      required: port.required,
      description: port.description,
    })),
    outputs: nodeType.outputs.map((port) => ({
      name: port.name,
      schemaJson: port.schema,
      required: port.required,
      description: port.description,
    })),
    ...(nodeType.flags === undefined
      ? {}
      : {
          flags: {
            idempotent: nodeType.flags.idempotent,
            cancellable: nodeType.flags.cancellable,
            streaming: nodeType.flags.streaming,
            deterministic: nodeType.flags.deterministic,
          },
        }),
    defaultTimeoutMs: nodeType.defaultTimeoutMs,
  });
}

/**
 * A blueprint as the debugger draws it: its document, inputs and outputs, and its graph with the ports of each
 * node's type and one edge per binding. It is built from the document, not from a validated graph, so a blueprint
 * that does not validate (an unknown node type, a wrong port) is still drawn, with its diagnostics.
 */
export function blueprintView(
  loaded: LoadedBlueprint,
  entry: { path: string },
  nodeTypes: readonly NodeTypeEntry[],
  diagnostics: readonly Diagnostic[],
): Blueprint {
  const { document } = loaded;
  const byType = new Map<string, NodeTypeEntry>();
  for (const nodeType of nodeTypes) {
    if (!byType.has(nodeType.nodeType.type)) byType.set(nodeType.nodeType.type, nodeType);
  }
  const edges: GraphEdge[] = [];
  const nodes: GraphNode[] = Object.entries(document.nodes).map(([id, node]) =>
    graphNode(
      id,
      node,
      node.runtime === undefined ? byType.get(node.type) : runtimeType(node, nodeTypes),
      edges,
    ),
  );
  const outputs = Object.entries(document.outputs ?? {}).map(([name, output]) => {
    const from = typeof output === "string" ? output : output.from;
    const [fromNode, fromPort] = splitBinding(from);
    edges.push(edge(fromNode, fromPort, OUTPUTS_NODE, name));
    return { name, from, description: typeof output === "string" ? "" : (output.description ?? "") };
  });
  return create(BlueprintSchema, {
    id: loaded.id,
    path: entry.path,
    title: document.title ?? loaded.id,
    description: document.description ?? "",
    documentJson: jsonText(document),
    inputs: Object.entries(document.inputs ?? {}).map(([name, input]) => ({
      name,
      schemaJson: input.schema === undefined ? "" : jsonText(input.schema),
      defaultJson: input.default === undefined ? "" : jsonText(input.default),
      description: input.description ?? "",
      required: input.required ?? input.default === undefined,
    })),
    outputs,
    graph: { nodes, edges },
    diagnostics: diagnostics.map((d) => ({
      path: d.path,
      message: d.message,
      suggestion: d.suggestion ?? "",
    })),
  });
}

function runtimeType(node: BlueprintNodeDocument, nodeTypes: readonly NodeTypeEntry[]) {
  return nodeTypes.find((entry) => entry.nodeType.type === node.type && entry.runtime === node.runtime);
}

function graphNode(
  id: string,
  node: BlueprintNodeDocument,
  type: NodeTypeEntry | undefined,
  edges: GraphEdge[],
): GraphNode {
  const literals: Record<string, unknown> = {};
  const boundPorts: string[] = [];
  for (const [port, binding] of Object.entries(node.inputs ?? {})) {
    const from = bindingSource(binding);
    if (from === undefined) {
      literals[port] = (binding as { value: unknown }).value;
    } else {
      const [fromNode, fromPort] = splitBinding(from);
      edges.push(edge(fromNode, fromPort, id, port));
    }
    boundPorts.push(port);
  }
  const ports = (list: { name: string; schema: string; required: boolean; description: string }[]): Port[] =>
    list.map((port) => ({
      $typeName: "conductor.api.v1.Port",
      name: port.name,
      schemaJson: port.schema,
      required: port.required,
      description: port.description,
    }));
  const unknownPorts = (names: string[]): Port[] =>
    names.map((name) => ({
      $typeName: "conductor.api.v1.Port",
      name,
      schemaJson: "",
      required: false,
      description: "",
    }));
  return {
    $typeName: "conductor.api.v1.GraphNode",
    id,
    type: node.type,
    runtime: node.runtime ?? type?.runtime ?? "",
    title: node.title ?? id,
    description: node.description ?? type?.nodeType.description ?? "",
    inputs: type === undefined ? unknownPorts(boundPorts) : ports(type.nodeType.inputs),
    outputs: type === undefined ? [] : ports(type.nodeType.outputs),
    literalInputsJson: Object.keys(literals).length === 0 ? "" : jsonText(literals),
    // Read loosely: the blueprint format gained `role` with compensations.
    role: (node as { role?: string }).role ?? "step",
  };
}

function bindingSource(binding: BindingDocument): string | undefined {
  if (typeof binding === "string") return binding;
  if ("from" in binding) return binding.from;
  return undefined;
}

function splitBinding(binding: string): [string, string] {
  const dot = binding.indexOf(".");
  return [binding.slice(0, dot), binding.slice(dot + 1)];
}

function edge(fromNode: string, fromPort: string, toNode: string, toPort: string): GraphEdge {
  return { $typeName: "conductor.api.v1.GraphEdge", fromNode, fromPort, toNode, toPort };
}
