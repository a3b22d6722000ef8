import type { NodeType } from "@conductor/sdk/protocol";
import { WORKER_LABELS_FEATURE } from "../distributed/keys.js";
import { ConductorError, type Diagnostic, formatDiagnostics } from "../errors.js";
import { conditionError } from "../scheduler/condition.js";
import {
  checkCollectedTables,
  checkStreamBinding,
  checkStreamRuntime,
  collectedTables,
  isStreamOutput,
} from "../streaming/stream-wiring.js";
import {
  hasSecretReference,
  replaceSecretReferences,
  secretPlaceholder,
} from "../tenancy/secret-references.js";
import {
  type Binding,
  type BlueprintGraph,
  ERROR_PORT,
  type GraphInput,
  type GraphNode,
  type GraphOutput,
} from "./blueprint-graph.js";
import { type BindingDocument, INPUTS_NODE } from "./blueprint-schema.js";
import type { LoadedBlueprint } from "./parse-blueprint.js";
import { describe, incompatibility, unannouncedFeature } from "./schema-compatibility.js";
import { suggest } from "./suggest.js";

/** A config problem a runtime reported, with a dotted path inside the config. */
export interface ConfigDiagnostic {
  path: string;
  message: string;
}

/** What validation needs to know about node types: where each is served and how to check a config. */
export interface NodeTypeCatalog {
  /** The runtimes serving a type; empty when none does. */
  runtimesFor(type: string): readonly string[];
  nodeType(type: string, runtime: string): NodeType | undefined;
  knownTypes(): Iterable<string>;
  runtimeNames(): Iterable<string>;
  validateConfig(runtime: string, type: string, config: Record<string, unknown>): Promise<ConfigDiagnostic[]>;
  /** The features a runtime announced in its Handshake (`values.arrow`, …); undefined when not known. */
  features?(runtime: string): readonly string[] | undefined;
  /**
   * Whether a runtime runs in the host's process and takes live values (a list of Arrow tables, say), not values
   * in their wire form; undefined when not known.
   */
  takesLiveValues?(runtime: string): boolean | undefined;
}

/** The result of {@link validateBlueprint}: a graph when there is no diagnostic. */
export type ValidationResult =
  | { graph: BlueprintGraph; diagnostics: [] }
  | { graph?: undefined; diagnostics: Diagnostic[] };

/**
 * Checks a blueprint against the node types of the project before anything runs: node types and runtimes, ports
 * on both ends of every edge, required inputs, the compatibility of connected ports (from the node types' JSON
 * Schemas), cycles and each node's config. Every diagnostic names its path, e.g. `nodes.stats.inputs.table`.
 */
export async function validateBlueprint(
  blueprint: LoadedBlueprint,
  catalog: NodeTypeCatalog,
): Promise<ValidationResult> {
  const diagnostics: Diagnostic[] = [];
  const document = blueprint.document;
  const ids = Object.keys(document.nodes);
  const idSet = new Set(ids);
  const nodes: GraphNode[] = [];
  const byId = new Map<string, GraphNode>();

  if (idSet.has(INPUTS_NODE)) {
    diagnostics.push({
      path: `nodes.${INPUTS_NODE}`,
      message: `"${INPUTS_NODE}" is reserved for the blueprint's inputs and cannot be a node id`,
      suggestion: "rename the node",
    });
  }

  // Resolve node types to runtimes.
  for (const id of ids) {
    const node = document.nodes[id]!;
    const path = `nodes.${id}`;
    const runtimes = catalog.runtimesFor(node.type);
    let runtime: string | undefined;
    if (runtimes.length === 0) {
      const hint = suggest(node.type, catalog.knownTypes());
      diagnostics.push({
        path: `${path}.type`,
        message: `unknown node type "${node.type}"; no runtime of the project serves it`,
        ...(hint === undefined
          ? { suggestion: "run `conductor nodes` to list the node types" }
          : { suggestion: hint }),
      });
    } else if (node.runtime !== undefined) {
      if (runtimes.includes(node.runtime)) runtime = node.runtime;
      else {
        const known = [...catalog.runtimeNames()];
        diagnostics.push({
          path: `${path}.runtime`,
          message: known.includes(node.runtime)
            ? `runtime "${node.runtime}" does not serve node type "${node.type}"; it is served by ${runtimes.map((r) => `"${r}"`).join(", ")}`
            : `unknown runtime "${node.runtime}"; the project has ${known.map((r) => `"${r}"`).join(", ")}`,
        });
      }
    } else {
      runtime = runtimes[0];
    }
    const nodeType = runtime === undefined ? undefined : catalog.nodeType(node.type, runtime);
    if (runtime === undefined || nodeType === undefined) continue;
    const features = catalog.features?.(runtime);
    if (node.runsOn !== undefined && features !== undefined && !features.includes(WORKER_LABELS_FEATURE)) {
      diagnostics.push({
        path: `${path}.runsOn`,
        message: `node "${id}" requires worker labels ${node.runsOn.join(", ")}, but its runtime "${runtime}" runs in this host, not on workers`,
        suggestion: `run its runtime on workers: conductor serve --redis <url> --remote ${runtime}, and conductor worker --labels ${node.runsOn.join(",")}`,
      });
    }
    const graphNode: GraphNode = {
      index: nodes.length,
      id,
      type: node.type,
      runtime,
      nodeType,
      config: node.config ?? {},
      inputs: {},
      predecessors: [],
      successors: [],
      timeoutMs: node.timeoutMs ?? nodeType.defaultTimeoutMs,
      policy: {
        ...(node.retry === undefined ? {} : { retry: node.retry }),
        // The host applies the node type's default, so runtimes only honour Step.timeout_ms (docs/protocol.md §3.1).
        timeoutMs: node.timeoutMs ?? nodeType.defaultTimeoutMs,
        heartbeatTimeoutMs: node.heartbeatTimeoutMs ?? 0,
        onError: node.onError ?? "fail",
        ...(node.when === undefined ? {} : { when: node.when }),
        ...(node.map === undefined ? {} : { map: node.map }),
        cache: node.cache ?? false,
      },
      role: node.role ?? "step",
      requiredInputs: new Set(nodeType.inputs.filter((port) => port.required).map((port) => port.name)),
      alwaysProduced: new Set(nodeType.outputs.filter((port) => port.required).map((port) => port.name)),
      document: node,
    };
    nodes.push(graphNode);
    byId.set(id, graphNode);
  }

  // Blueprint inputs.
  const inputs: Record<string, GraphInput> = {};
  for (const [name, input] of Object.entries(document.inputs ?? {})) {
    inputs[name] = {
      schema: input.schema ?? {},
      ...(input.default === undefined ? {} : { default: input.default }),
      required: input.required ?? input.default === undefined,
      description: input.description ?? "",
    };
  }

  // Edges: every input binding of every node.
  for (const node of nodes) {
    const path = `nodes.${node.id}.inputs`;
    const ports = new Map(node.nodeType.inputs.map((port) => [port.name, port]));
    const bound = node.document.inputs ?? {};
    for (const [portName, bindingDocument] of Object.entries(bound)) {
      const port = ports.get(portName);
      if (port === undefined) {
        const hint = suggest(portName, ports.keys());
        diagnostics.push({
          path: `${path}.${portName}`,
          message: `node type "${node.type}" has no input "${portName}"; its inputs are ${listOrNone(ports.keys())}`,
          ...(hint === undefined ? {} : { suggestion: hint }),
        });
        continue;
      }
      const binding = resolveBinding(
        bindingDocument,
        `${path}.${portName}`,
        byId,
        idSet,
        inputs,
        diagnostics,
      );
      if (binding === undefined) continue;
      node.inputs[portName] = binding;
      if (binding.kind === "node" && node.role === "step" && nodes[binding.node]!.role === "compensation") {
        diagnostics.push({
          path: `${path}.${portName}`,
          message: `node "${nodes[binding.node]!.id}" is a compensation node; only compensation nodes may read its outputs`,
        });
        continue;
      }
      const streamIssue = checkStreamBinding(node, portName, binding, nodes, describeSource(binding, nodes));
      if (streamIssue !== undefined) {
        diagnostics.push({ path: `${path}.${portName}`, ...streamIssue });
        continue;
      }
      const portSchema = parseSchema(port.schema);
      // A mapped port receives a list whose elements must fit the port.
      const targetSchema =
        node.policy.map?.over === portName ? { type: "array", items: portSchema } : portSchema;
      const sourceSchema = bindingSchema(binding, nodes, inputs, targetSchema);
      const tablesIssue = checkCollectedTables(
        node,
        portName,
        binding,
        nodes,
        sourceSchema,
        catalog.takesLiveValues?.(node.runtime),
      );
      if (tablesIssue !== undefined) {
        diagnostics.push({ path: `${path}.${portName}`, ...tablesIssue });
        continue;
      }
      if (sourceSchema !== undefined) {
        const reason = incompatibility(sourceSchema, targetSchema);
        if (reason !== undefined) {
          diagnostics.push({
            path: `${path}.${portName}`,
            message: `type mismatch: ${describeSource(binding, nodes)} gives ${describe(sourceSchema)}, input "${portName}" of "${node.type}" ${reason}`,
          });
        }
        const unsupported = unannouncedFeature(sourceSchema, node.runtime, catalog.features?.(node.runtime));
        if (reason === undefined && unsupported !== undefined) {
          diagnostics.push({
            path: `${path}.${portName}`,
            message: `${describeSource(binding, nodes)} gives ${describe(sourceSchema)}, but ${unsupported}`,
          });
        }
      }
      if (binding.kind === "node" && node.role === "step" && !node.predecessors.includes(binding.node)) {
        node.predecessors.push(binding.node);
        nodes[binding.node]!.successors.push(node.index);
      }
    }
    checkPolicy(node, byId, diagnostics);
    const streamRuntime = checkStreamRuntime(node, catalog.features?.(node.runtime));
    if (streamRuntime !== undefined) diagnostics.push({ path: `nodes.${node.id}`, ...streamRuntime });
    for (const port of node.nodeType.inputs) {
      if (port.required && !(port.name in bound)) {
        diagnostics.push({
          path: `${path}.${port.name}`,
          message: `missing required input "${port.name}" of node type "${node.type}" (${describe(parseSchema(port.schema))})`,
          suggestion: `bind it to an output ("<node>.<port>"), a blueprint input ("inputs.<name>") or a literal ({ value: ... })`,
        });
      }
    }
  }

  // Blueprint outputs.
  const outputs: Record<string, GraphOutput> = {};
  for (const [name, outputDocument] of Object.entries(document.outputs ?? {})) {
    const from = typeof outputDocument === "string" ? outputDocument : outputDocument.from;
    const binding = resolveBinding(from, `outputs.${name}`, byId, idSet, inputs, diagnostics);
    if (binding?.kind === "node" && isStreamOutput(nodes[binding.node]!.nodeType, binding.port)) {
      diagnostics.push({
        path: `outputs.${name}`,
        message: `blueprint output "${name}" reads "${from}", a stream of items; a blueprint output takes one value`,
        suggestion: "read the stream with a node that collects it (an input bound with collect: true)",
      });
      continue;
    }
    if (binding !== undefined && binding.kind !== "literal") outputs[name] = binding;
  }

  // Cycles (compensation nodes run outside the graph's order).
  const order = topologicalOrder(
    nodes.filter((node) => node.role === "step"),
    nodes,
  );
  if (order === undefined) {
    const cycle = findCycle(nodes);
    diagnostics.push({
      path: `nodes.${cycle[0]}`,
      message: `the graph has a cycle: ${describeCycle(cycle)}; a blueprint must be acyclic`,
      suggestion: "remove one of the edges of the cycle",
    });
  }

  // Config, checked by the runtime that serves each node (zod in-process, pydantic, serde, ...).
  const configChecks = await Promise.all(
    nodes.map(async (node) => {
      try {
        // A secret reference stands for a string the runtime gets only when the node runs.
        const config = hasSecretReference(node.config)
          ? (replaceSecretReferences(node.config, secretPlaceholder) as Record<string, unknown>)
          : node.config;
        return { node, found: await catalog.validateConfig(node.runtime, node.type, config) };
      } catch (error) {
        return {
          node,
          found: [
            {
              path: "",
              message: `runtime "${node.runtime}" could not check the config: ${(error as Error).message}`,
            },
          ],
        };
      }
    }),
  );
  for (const { node, found } of configChecks) {
    for (const problem of found) {
      diagnostics.push({
        path: `nodes.${node.id}.config${problem.path === "" ? "" : `.${problem.path}`}`,
        message: problem.message,
      });
    }
  }

  if (diagnostics.length > 0 || order === undefined) return { diagnostics };
  return {
    graph: { id: blueprint.id, source: blueprint.source, document, nodes, byId, order, inputs, outputs },
    diagnostics: [],
  };
}

/** Like {@link validateBlueprint}, but throws a {@link ConductorError} listing every diagnostic. */
export async function validateOrThrow(
  blueprint: LoadedBlueprint,
  catalog: NodeTypeCatalog,
): Promise<BlueprintGraph> {
  const result = await validateBlueprint(blueprint, catalog);
  if (result.graph !== undefined) return result.graph;
  throw new ConductorError(
    "blueprint_invalid",
    `blueprint ${blueprint.source} is invalid (${result.diagnostics.length} problem${result.diagnostics.length === 1 ? "" : "s"}):\n${formatDiagnostics(result.diagnostics)}`,
    { diagnostics: result.diagnostics },
  );
}

function resolveBinding(
  document: BindingDocument,
  path: string,
  byId: Map<string, GraphNode>,
  ids: ReadonlySet<string>,
  inputs: Record<string, GraphInput>,
  diagnostics: Diagnostic[],
): Binding | undefined {
  if (typeof document === "object" && "value" in document) return { kind: "literal", value: document.value };
  const text = typeof document === "string" ? document : document.from;
  const dot = text.indexOf(".");
  const source = text.slice(0, dot);
  const port = text.slice(dot + 1);
  if (source === INPUTS_NODE) {
    if (!(port in inputs)) {
      const hint = suggestWhileFew(port, Object.keys(inputs), diagnostics);
      diagnostics.push({
        path,
        message: `"${text}" names blueprint input "${port}", which is not declared; declared inputs: ${listOrNone(Object.keys(inputs))}`,
        ...(hint === undefined ? { suggestion: `declare it under inputs:` } : { suggestion: hint }),
      });
      return undefined;
    }
    return { kind: "input", name: port };
  }
  const node = byId.get(source);
  if (node === undefined) {
    if (!ids.has(source)) {
      const hint = suggestWhileFew(source, ids, diagnostics);
      diagnostics.push({
        path,
        message: `"${text}" names node "${source}", which does not exist`,
        ...(hint === undefined ? {} : { suggestion: hint }),
      });
    }
    // A node that exists but did not resolve already has its own diagnostic.
    return undefined;
  }
  const outputs = node.nodeType.outputs.map((output) => output.name);
  if (port === ERROR_PORT && node.policy.onError === "route") return { kind: "node", node: node.index, port };
  if (!outputs.includes(port)) {
    const hint = suggest(port, outputs);
    diagnostics.push({
      path,
      message: `node "${source}" (${node.type}) has no output "${port}"; its outputs are ${listOrNone(outputs)}`,
      ...(hint !== undefined
        ? { suggestion: hint }
        : port === ERROR_PORT
          ? {
              suggestion: `set onError: route on node "${source}" to read its failures from "${source}.${ERROR_PORT}"`,
            }
          : {}),
    });
    return undefined;
  }
  return typeof document === "object" && "collect" in document && document.collect === true
    ? { kind: "node", node: node.index, port, collect: true }
    : { kind: "node", node: node.index, port };
}

function bindingSchema(
  binding: Binding,
  nodes: GraphNode[],
  inputs: Record<string, GraphInput>,
  target: Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (binding.kind === "node") {
    const source = nodes[binding.node]!;
    if (binding.port === ERROR_PORT && source.policy.onError === "route") return FAILURE_SCHEMA;
    const port = source.nodeType.outputs.find((output) => output.name === binding.port);
    if (port === undefined) return undefined;
    const schema = parseSchema(port.schema);
    // A collected stream is the list of its items, or one table for Arrow batches read by a table input.
    if (binding.collect === true)
      return collectedTables(schema, target) === "table" ? schema : { type: "array", items: schema };
    return source.policy.map === undefined ? schema : { type: "array", items: schema };
  }
  if (binding.kind === "input") return inputs[binding.name]?.schema;
  return schemaOfLiteral(binding.value);
}

/** The JSON Schema of the failure a node with `onError: route` puts on its `error` port. */
const FAILURE_SCHEMA: Record<string, unknown> = {
  type: "object",
  properties: { message: { type: "string" }, type: { type: "string" }, retryable: { type: "boolean" } },
  required: ["message", "type", "retryable"],
};

/** Checks a node's policy fields against its node type and the rest of the graph. */
function checkPolicy(node: GraphNode, byId: Map<string, GraphNode>, diagnostics: Diagnostic[]): void {
  const path = `nodes.${node.id}`;
  const policy = node.policy;
  if (policy.map !== undefined && !node.nodeType.inputs.some((port) => port.name === policy.map!.over)) {
    diagnostics.push({
      path: `${path}.map.over`,
      message: `node type "${node.type}" has no input "${policy.map.over}" to map over; its inputs are ${listOrNone(node.nodeType.inputs.map((p) => p.name))}`,
    });
  } else if (policy.map !== undefined && !(policy.map.over in node.inputs)) {
    diagnostics.push({
      path: `${path}.inputs.${policy.map.over}`,
      message: `the mapped input "${policy.map.over}" must be bound to a list`,
    });
  }
  if (policy.cache && node.nodeType.flags?.deterministic !== true) {
    diagnostics.push({
      path: `${path}.cache`,
      message: `node type "${node.type}" does not declare itself deterministic, so its results cannot be cached`,
      suggestion:
        "remove cache: true, or mark the node type deterministic if the same inputs always give the same outputs",
    });
  }
  if (node.document.compensate !== undefined) {
    const compensation = byId.get(node.document.compensate);
    if (compensation === undefined) {
      const hint = suggestWhileFew(node.document.compensate, byId.keys(), diagnostics);
      diagnostics.push({
        path: `${path}.compensate`,
        message: `compensation node "${node.document.compensate}" does not exist`,
        ...(hint === undefined ? {} : { suggestion: hint }),
      });
    } else if (compensation.role !== "compensation") {
      diagnostics.push({
        path: `${path}.compensate`,
        message: `node "${compensation.id}" must have role: compensation to compensate "${node.id}"`,
      });
    } else policy.compensate = compensation.index;
  }
  if (policy.when !== undefined) {
    const error = conditionError(policy.when);
    if (error !== undefined)
      diagnostics.push({ path: `${path}.when`, message: `the condition is not valid JSONata: ${error}` });
  }
  if (node.role === "compensation" && node.policy.map !== undefined) {
    diagnostics.push({ path: `${path}.map`, message: "a compensation node cannot map over a list" });
  }
}

function schemaOfLiteral(value: unknown): Record<string, unknown> {
  if (value === null) return { type: "null" };
  if (Array.isArray(value)) return { type: "array" };
  if (typeof value === "number") return { type: Number.isInteger(value) ? "integer" : "number" };
  return { type: typeof value };
}

function describeSource(binding: Binding, nodes: GraphNode[]): string {
  if (binding.kind === "node") {
    const node = nodes[binding.node]!;
    return `output "${binding.port}" of node "${node.id}" (${node.type})`;
  }
  if (binding.kind === "input") return `blueprint input "${binding.name}"`;
  return "the literal value";
}

function parseSchema(text: string): Record<string, unknown> {
  if (text === "") return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Suggestions among a blueprint's own names (node ids, inputs), for the first problems only: a suggestion costs a
 * comparison with every name, so 10,000 broken bindings in a 10,000-node blueprint would otherwise take minutes.
 */
function suggestWhileFew(
  name: string,
  candidates: Iterable<string>,
  diagnostics: Diagnostic[],
): string | undefined {
  return diagnostics.length < SUGGESTED_PROBLEMS ? suggest(name, candidates) : undefined;
}

/** How many problems get a suggestion from the blueprint's own names. */
const SUGGESTED_PROBLEMS = 100;

function listOrNone(names: Iterable<string>): string {
  const list: string[] = [];
  let count = 0;
  for (const name of names) {
    if (count++ < LISTED_NAMES) list.push(`"${name}"`);
  }
  if (count === 0) return "(none)";
  return count > LISTED_NAMES ? `${list.join(", ")}, … (${count} in all)` : list.join(", ");
}

/** A cycle in words: every node of a short one, the first and last few of a long one. */
function describeCycle(cycle: string[]): string {
  if (cycle.length <= 2 * LISTED_NAMES) return cycle.join(" → ");
  const head = cycle.slice(0, LISTED_NAMES / 2).join(" → ");
  const tail = cycle.slice(-LISTED_NAMES / 2).join(" → ");
  return `${head} → … (${cycle.length - 1} nodes in all) … → ${tail}`;
}

/** Names listed in a message before it says how many there are in all. */
const LISTED_NAMES = 20;

/** Kahn's algorithm over `steps`; undefined when there is a cycle. */
function topologicalOrder(steps: GraphNode[], nodes: GraphNode[]): number[] | undefined {
  const pending = nodes.map((node) => node.predecessors.length);
  const ready = steps.filter((node) => node.predecessors.length === 0).map((node) => node.index);
  const order: number[] = [];
  for (let head = 0; head < ready.length; head++) {
    const index = ready[head]!;
    order.push(index);
    for (const successor of nodes[index]!.successors) {
      pending[successor]!--;
      if (pending[successor] === 0) ready.push(successor);
    }
  }
  return order.length === steps.length ? order : undefined;
}

/**
 * One cycle, as node ids, closing on its first node. A depth-first search with its own stack rather than recursion,
 * because a chain of 10,000 nodes would overflow the call stack.
 */
function findCycle(nodes: GraphNode[]): string[] {
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the path, 2 done
  const path: number[] = [];
  const nextSuccessor: number[] = [];
  for (const root of nodes) {
    if (state[root.index] !== 0) continue;
    state[root.index] = 1;
    path.push(root.index);
    nextSuccessor.push(0);
    while (path.length > 0) {
      const top = path.length - 1;
      const index = path[top]!;
      const successors = nodes[index]!.successors;
      const next = nextSuccessor[top]!;
      if (next === successors.length) {
        state[index] = 2;
        path.pop();
        nextSuccessor.pop();
        continue;
      }
      nextSuccessor[top] = next + 1;
      const successor = successors[next]!;
      if (state[successor] === 1) {
        return [...path.slice(path.lastIndexOf(successor)), successor].map((i) => nodes[i]!.id);
      }
      if (state[successor] === 0) {
        state[successor] = 1;
        path.push(successor);
        nextSuccessor.push(0);
      }
    }
  }
  return [];
}
