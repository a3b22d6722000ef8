import type { NodeType } from "@conductor/sdk/protocol";
import type { BlueprintDocument, BlueprintNodeDocument } from "./blueprint-schema.js";

/** Where a node input's value comes from. */
export type Binding =
  | { kind: "node"; node: number; port: string }
  | { kind: "input"; name: string }
  | { kind: "literal"; value: unknown };

/** A node of a validated blueprint, with its type resolved to a runtime and its edges as indices. */
export interface GraphNode {
  index: number;
  id: string;
  type: string;
  /** The name of the runtime that runs it. */
  runtime: string;
  nodeType: NodeType;
  config: Record<string, unknown>;
  inputs: Record<string, Binding>;
  /** Distinct nodes this node reads from, by index. */
  predecessors: number[];
  /** Distinct nodes reading from this node, by index. */
  successors: number[];
  timeoutMs: number;
  document: BlueprintNodeDocument;
}

/** A blueprint input as the graph sees it. */
export interface GraphInput {
  schema: Record<string, unknown>;
  default?: unknown;
  required: boolean;
  description: string;
}

/** Where a blueprint output reads from. */
export type GraphOutput = { kind: "node"; node: number; port: string } | { kind: "input"; name: string };

/**
 * A blueprint that passed validation: every node type resolved, every binding pointing at a real port, no
 * cycles. The scheduler only ever sees this form.
 */
export interface BlueprintGraph {
  id: string;
  source: string;
  document: BlueprintDocument;
  nodes: GraphNode[];
  byId: Map<string, GraphNode>;
  /** Node indices in a topological order. */
  order: number[];
  inputs: Record<string, GraphInput>;
  outputs: Record<string, GraphOutput>;
}
