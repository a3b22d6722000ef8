import { create } from "@bufbuild/protobuf";
import type { InvocationControl } from "@conductor/sdk";
import {
  FEATURES,
  type InvocationRequest,
  type InvocationSink,
  type NodeType,
  NodeTypeSchema,
  PortSchema,
  type RuntimeDescription,
  toLive,
} from "@conductor/sdk/protocol";
import { type BlueprintDocument, INPUTS_NODE } from "../blueprint/blueprint-schema.js";
import type { ConfigDiagnostic } from "../blueprint/validate-blueprint.js";
import type { ExecutionResult } from "../scheduler/execution.js";
import type { RuntimeConnection } from "./runtime-connection.js";

/** The prefix of node types that are blueprints of the project: `blueprint.<id>`. */
export const SUB_BLUEPRINT_PREFIX = "blueprint.";

/** What the sub-blueprint runtime needs from the host. */
export interface SubBlueprintHost {
  /** The project's blueprints that load, by id. */
  documents(): Promise<Map<string, BlueprintDocument>>;
  /**
   * The JSON Schema text of output `port` of node type `type` (served by `runtime` when given), when a runtime that
   * has started serves it.
   */
  outputSchema(type: string, port: string, runtime?: string): string | undefined;
  /**
   * Starts blueprint `id` as a child execution of node `parent.nodeId` of execution `parent.executionId` (which
   * the journal records), or continues the one that node started before its host stopped.
   */
  start(
    id: string,
    inputs: Record<string, unknown>,
    executionId: string,
    parent: { executionId: string; nodeId: string },
  ): Promise<{ result: Promise<ExecutionResult>; cancel(reason: string): void }>;
}

/**
 * Serves every blueprint of the project as a node type, `blueprint.<id>`, whose inputs and outputs are the
 * blueprint's. Running one starts a child execution in the same host through the same scheduler, so a
 * sub-blueprint costs about what a node call costs (no process, no serialization). Nested to any depth; a
 * blueprint that reaches itself is rejected at validation (see {@link recursionOf}).
 */
export class SubBlueprintRuntime implements RuntimeConnection {
  readonly name = "blueprints";
  readonly supportsSteps = false;
  readonly takesLiveValues = true;
  readonly description: RuntimeDescription = {
    abiVersion: 1,
    name: "blueprints",
    language: "blueprint",
    version: "0.1.0",
    // A page or a Web Worker has no process: the runtime is the page itself.
    pid: typeof process === "undefined" ? 0 : process.pid,
    // Values pass into the child execution as they are, tables and blobs included.
    features: [FEATURES.arrow, FEATURES.blob],
    maxConcurrency: 1_000_000,
    maxMessageBytes: 0,
    schemaHash: "",
  };
  nodeTypes: NodeType[] = [];
  private documents = new Map<string, BlueprintDocument>();

  constructor(private readonly host: SubBlueprintHost) {}

  /** Reads the project's blueprints again and lists them as node types. */
  async refresh(): Promise<void> {
    this.documents = await this.host.documents();
    this.describeAll();
  }

  /**
   * Lists the blueprints as node types again. An output's type is the type of what it binds: the output port of an
   * inner node (of a nested sub-blueprint, to any depth) or a blueprint input; `{}` (anything) while the runtime of
   * that node has not started, so call this again once the runtimes that {@link usedBy} names have.
   */
  describeAll(): void {
    const described = describeBlueprints(this.documents, (type, port, runtime) =>
      this.host.outputSchema(type, port, runtime),
    );
    this.nodeTypes = [...this.documents.keys()].map((id) => described.get(`${SUB_BLUEPRINT_PREFIX}${id}`)!);
  }

  /** The node types and pinned runtimes the blueprints `ids` use, directly or through nested sub-blueprints. */
  usedBy(ids: Iterable<string>): { types: string[]; runtimes: string[] } {
    const types = new Set<string>();
    const runtimes = new Set<string>();
    const seen = new Set<string>();
    const visit = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      for (const node of Object.values(this.documents.get(id)?.nodes ?? {})) {
        if (node.type.startsWith(SUB_BLUEPRINT_PREFIX)) visit(node.type.slice(SUB_BLUEPRINT_PREFIX.length));
        else types.add(node.type);
        if (node.runtime !== undefined) runtimes.add(node.runtime);
      }
    };
    for (const id of ids) visit(id);
    return { types: [...types], runtimes: [...runtimes] };
  }

  findNodeType(type: string): NodeType | undefined {
    return this.nodeTypes.find((nodeType) => nodeType.type === type);
  }

  /** The blueprint ids `id` uses as nodes, directly. */
  uses(id: string): string[] {
    const document = this.documents.get(id);
    if (document === undefined) return [];
    return Object.values(document.nodes)
      .map((node) => node.type)
      .filter((type) => type.startsWith(SUB_BLUEPRINT_PREFIX))
      .map((type) => type.slice(SUB_BLUEPRINT_PREFIX.length));
  }

  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl {
    const step = request.steps[0]!;
    const id = step.nodeType.slice(SUB_BLUEPRINT_PREFIX.length);
    const inputs: Record<string, unknown> = {};
    for (const port in step.inputs) {
      const input = step.inputs[port]!;
      if ("value" in input) inputs[port] = toLive(input.value);
    }
    let cancelled: string | undefined;
    let cancelChild: ((reason: string) => void) | undefined;
    const startedAt = performance.now();
    const childId = `${request.executionId}/${step.nodeId}${step.attempt > 1 ? `#${step.attempt}` : ""}`;
    this.host.start(id, inputs, childId, { executionId: request.executionId, nodeId: step.nodeId }).then(
      async (child) => {
        cancelChild = child.cancel;
        sink.started(0);
        if (cancelled !== undefined) child.cancel(cancelled);
        const result = await child.result;
        const durationUs = Math.round((performance.now() - startedAt) * 1000);
        if (result.status === "completed")
          sink.completed(0, result.encodedOutputs ?? result.outputs, durationUs);
        else if (result.status === "cancelled")
          sink.cancelled(0, cancelled ?? result.failure?.message ?? "cancelled");
        else {
          const failure = result.failure!;
          sink.failed(
            0,
            {
              message: `sub-blueprint "${id}" failed at node "${failure.nodeId}": ${failure.message}`,
              type: failure.type,
              retryable: failure.retryable,
              cause: failure,
            },
            durationUs,
          );
        }
      },
      (error: unknown) => {
        sink.rejected({
          message: `sub-blueprint "${id}" cannot start: ${(error as Error).message}`,
          type: "blueprint.invalid",
          retryable: false,
        });
      },
    );
    return {
      cancel: (reason) => {
        cancelled = reason;
        cancelChild?.(reason);
      },
    };
  }

  async validateConfig(): Promise<ConfigDiagnostic[]> {
    return [];
  }

  async close(): Promise<void> {}
}

/**
 * The node types `blueprint.<id>` of blueprints `documents`, by type. An output's type is the type of what it binds:
 * the output port of an inner node (of a nested sub-blueprint of `documents`, to any depth, typed by
 * `outputSchema` otherwise) or a blueprint input; `{}` (anything) when not known.
 */
export function describeBlueprints(
  documents: ReadonlyMap<string, BlueprintDocument>,
  outputSchema: SubBlueprintHost["outputSchema"],
): Map<string, NodeType> {
  const described = new Map<string, NodeType>();
  const visiting = new Set<string>();
  const describeOne = (id: string): NodeType => {
    const known = described.get(`${SUB_BLUEPRINT_PREFIX}${id}`);
    if (known !== undefined) return known;
    const document = documents.get(id)!;
    // A blueprint reaching itself is rejected at validation; here it only must not loop.
    visiting.add(id);
    const schemaOf = (binding: string): string => {
      const [nodeId, port] = binding.split(".") as [string, string];
      if (nodeId === INPUTS_NODE) return JSON.stringify(document.inputs?.[port]?.schema ?? {});
      const node = document.nodes[nodeId];
      if (node === undefined) return "{}";
      if (node.type.startsWith(SUB_BLUEPRINT_PREFIX)) {
        const child = node.type.slice(SUB_BLUEPRINT_PREFIX.length);
        if (!documents.has(child) || visiting.has(child)) return "{}";
        return describeOne(child).outputs.find((output) => output.name === port)?.schema ?? "{}";
      }
      return outputSchema(node.type, port, node.runtime) ?? "{}";
    };
    const nodeType = describe(id, document, schemaOf);
    visiting.delete(id);
    described.set(nodeType.type, nodeType);
    return nodeType;
  };
  for (const id of documents.keys()) describeOne(id);
  return described;
}

/** The node type of blueprint `id`: its inputs and outputs as ports, each output typed by `outputSchema`. */
function describe(
  id: string,
  document: BlueprintDocument,
  outputSchema: (binding: string) => string,
): NodeType {
  return create(NodeTypeSchema, {
    type: `${SUB_BLUEPRINT_PREFIX}${id}`,
    version: "1",
    title: document.title ?? id,
    description: document.description ?? `the blueprint "${id}" as a node`,
    configSchema: JSON.stringify({ type: "object", properties: {}, additionalProperties: false }),
    inputs: Object.entries(document.inputs ?? {}).map(([name, input]) =>
      create(PortSchema, {
        name,
        schema: JSON.stringify(input.schema ?? {}),
        required: input.required ?? input.default === undefined,
        description: input.description ?? "",
      }),
    ),
    outputs: Object.entries(document.outputs ?? {}).map(([name, output]) =>
      create(PortSchema, {
        name,
        schema: outputSchema(typeof output === "string" ? output : output.from),
        required: false,
        description: typeof output === "string" ? "" : (output.description ?? ""),
      }),
    ),
    flags: { cancellable: true },
  });
}

/**
 * The chain of blueprint ids by which `id` reaches itself (e.g. ["a", "b", "a"]), or undefined when it does not.
 */
export function recursionOf(id: string, uses: (id: string) => string[]): string[] | undefined {
  const path: string[] = [id];
  const visiting = new Set<string>();
  const visit = (current: string): string[] | undefined => {
    for (const next of uses(current)) {
      if (next === id) return [...path, next];
      if (visiting.has(next)) continue;
      visiting.add(next);
      path.push(next);
      const found = visit(next);
      if (found !== undefined) return found;
      path.pop();
    }
    return undefined;
  };
  return visit(id);
}
