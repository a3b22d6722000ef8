import type { NodeType } from "@conductor/sdk/protocol";
import type { BlueprintDocument, BlueprintNodeDocument } from "./blueprint-schema.js";

/** Where a node input's value comes from. */
export type Binding =
  | {
      kind: "node";
      node: number;
      port: string;
      /** The port is a stream read into one list, once it ended (`collect: true`, docs/streaming.md). */
      collect?: true;
    }
  | { kind: "input"; name: string }
  | { kind: "literal"; value: unknown };

/** How to try again after a retryable failure (defaults applied). */
export interface RetryPolicy {
  maxAttempts: number;
  initialDelayMs: number;
  backoffCoefficient: number;
  maxDelayMs: number;
  jitter: boolean;
}

/** What happens around a node's attempts: retries, time limits, conditions, error handling. */
export interface NodePolicy {
  retry?: RetryPolicy;
  /** Per attempt, 0 for none. */
  timeoutMs: number;
  heartbeatTimeoutMs: number;
  onError: "fail" | "continue" | "route";
  when?: string;
  map?: { over: string; concurrency: number };
  cache: boolean;
  /** The index of the node that compensates this one. */
  compensate?: number;
}

/** The output port that carries a failure when a node's policy is `onError: route`. */
export const ERROR_PORT = "error";

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
  policy: NodePolicy;
  /** "compensation" nodes run only to undo another node after a failure; they are not part of `order`. */
  role: "step" | "compensation";
  /** Input ports that must have a value. */
  requiredInputs: ReadonlySet<string>;
  /** Output ports the node type always produces (so a chain may pass them along inside a runtime). */
  alwaysProduced: ReadonlySet<string>;
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
  /** Indices of the step nodes (not compensation nodes) in a topological order. */
  order: number[];
  inputs: Record<string, GraphInput>;
  outputs: Record<string, GraphOutput>;
}
