import { create } from "@bufbuild/protobuf";
import type { z } from "zod";
import { platform } from "#platform";
import {
  type Diagnostic,
  Diagnostic_Severity,
  DiagnosticSchema,
  type NodeType,
  NodeTypeSchema,
  PortSchema,
} from "../gen/conductor/runtime/v1/runtime_pb.js";
import type { NodeDefinition } from "../node/define-node.js";
import { checkedItems, isAsyncIterable, streamItemOf, streamPortsOf } from "../node/stream-port.js";
import { toJsonSchemaText } from "../node/value-schemas.js";
import { type FailureInfo, failureInfoBrand, toFailureInfo } from "../protocol/failure.js";
import type { InvocationRequest, InvocationSink, StepRequest } from "../protocol/invocation.js";
import { toLive, ValueError } from "../protocol/value-codec.js";
import { stepTraceRunner } from "../telemetry/step-trace.js";
import { describeFound, describeIssues, issuePath, valueAt } from "./describe-issues.js";
import { inputParserOf, outputParserOf } from "./port-parser.js";
import { StepContext } from "./step-context.js";
import { declaredKeys, didYouMean } from "./unknown-keys.js";

/** Options of {@link createNodeRuntime}. */
export interface NodeRuntimeOptions {
  nodes: readonly NodeDefinition[];
  /** Most invocations run at once; more are rejected as `runtime.busy`. Default 256. */
  maxConcurrency?: number;
}

/** Lets the caller cancel an invocation it started. */
export interface InvocationControl {
  /** Fires the running step's signal; the step then ends `cancelled`. */
  cancel(reason: string): void;
}

/**
 * Executes node definitions behind the runtime ABI. The host's in-process transport calls it directly with live
 * values; the Node sidecar (and any TypeScript runtime made with `serveRuntime`) puts it behind gRPC. Both give
 * identical results because both run this code.
 */
export interface NodeRuntime {
  /** Every node type, described with JSON Schemas (computed on first use, because zod → JSON Schema costs). */
  readonly nodeTypes: readonly NodeType[];
  /** One node type's description, or undefined; cheaper than `nodeTypes` when only a few are needed. */
  nodeType(type: string): NodeType | undefined;
  readonly schemaHash: string;
  readonly maxConcurrency: number;
  /** How many invocations are running now. */
  readonly inFlight: number;
  validateConfig(nodeType: string, config: unknown): Diagnostic[];
  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl;
  /** Resolves once no invocation is running, or after `graceMs`; gives the number still running. */
  drain(graceMs: number): Promise<number>;
}

/** Creates a {@link NodeRuntime} serving the given node definitions. */
export function createNodeRuntime(options: NodeRuntimeOptions): NodeRuntime {
  const definitions = new Map<string, NodeDefinition>();
  for (const node of options.nodes) {
    if (definitions.has(node.type)) {
      throw new TypeError(`node type "${node.type}" is defined twice; each type name must be unique`);
    }
    definitions.set(node.type, node);
  }
  return new NodeRuntimeImpl(definitions, options.maxConcurrency ?? 256);
}

function describeNodeType(node: NodeDefinition): NodeType {
  const inputShape = node.inputSchema.shape;
  return create(NodeTypeSchema, {
    type: node.type,
    version: node.version,
    title: node.title,
    description: node.description,
    configSchema: toJsonSchemaText(node.configSchema, "input"),
    inputs: Object.entries(inputShape).map(([name, schema]) => {
      // A stream port is described by its item schema, and flagged.
      const item = streamItemOf(schema);
      return create(PortSchema, {
        name,
        schema: toJsonSchemaText(item ?? schema, "input"),
        required: !schema.safeParse(undefined).success,
        description: schema.description ?? "",
        stream: item !== undefined,
      });
    }),
    outputs: Object.entries(node.outputSchema.shape).map(([name, schema]) => {
      const item = streamItemOf(schema);
      return create(PortSchema, {
        name,
        schema: toJsonSchemaText(item ?? schema, "output"),
        // For outputs, required means "always produced".
        required: !schema.safeParse(undefined).success,
        description: schema.description ?? "",
        stream: item !== undefined,
      });
    }),
    flags: node.flags,
    defaultTimeoutMs: node.timeoutMs,
  });
}

const NO_OUTPUTS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

class NodeRuntimeImpl implements NodeRuntime {
  inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly described = new Map<string, NodeType>();
  private hash: string | undefined;

  constructor(
    private readonly definitions: Map<string, NodeDefinition>,
    readonly maxConcurrency: number,
  ) {}

  get nodeTypes(): readonly NodeType[] {
    return [...this.definitions.keys()].map((type) => this.nodeType(type)!);
  }

  nodeType(type: string): NodeType | undefined {
    let described = this.described.get(type);
    if (described === undefined) {
      const definition = this.definitions.get(type);
      if (definition === undefined) return undefined;
      described = describeNodeType(definition);
      this.described.set(type, described);
    }
    return described;
  }

  get schemaHash(): string {
    this.hash ??= platform
      .createSha256()
      .update(
        JSON.stringify(this.nodeTypes.map((t) => [t.type, t.version, t.configSchema, t.inputs, t.outputs])),
      )
      .digestHex()
      .slice(0, 16);
    return this.hash;
  }

  validateConfig(nodeType: string, config: unknown): Diagnostic[] {
    const definition = this.definitions.get(nodeType);
    if (definition === undefined) {
      return [
        create(DiagnosticSchema, {
          severity: Diagnostic_Severity.ERROR,
          message: `unknown node type "${nodeType}"`,
          expected: [...this.definitions.keys()].join(", "),
          found: nodeType,
        }),
      ];
    }
    const parsed = definition.configSchema.safeParse(config ?? {});
    if (parsed.success) return [];
    const messages = describeIssues(parsed.error.issues, "config", config);
    return parsed.error.issues.flatMap((issue, index) => {
      if (issue.code === "unrecognized_keys") {
        // One diagnostic per unknown key, naming it, with the declared key it most likely meant.
        const declared = declaredKeys(definition.configSchema, issue.path);
        return issue.keys.map((key) => {
          const hint = didYouMean(key, declared);
          const path = [...issue.path.map(String), key].join(".");
          return create(DiagnosticSchema, {
            severity: Diagnostic_Severity.ERROR,
            message: `config "${path}": unknown field${hint === undefined ? (declared.length === 0 ? "; this node takes no config here" : `; expected one of ${declared.join(", ")}`) : `; ${hint}`}`,
            path,
            expected: declared.join(", "),
            found: key,
          });
        });
      }
      return [
        create(DiagnosticSchema, {
          severity: Diagnostic_Severity.ERROR,
          message: messages[index] ?? issue.message,
          path: issuePath(issue),
          expected: "expected" in issue ? String(issue.expected) : "",
          found: describeFound(valueAt(config, issue.path)) ?? "",
        }),
      ];
    });
  }

  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl {
    const rejection = this.checkInvocation(request);
    if (rejection !== undefined) {
      sink.rejected(rejection);
      return { cancel() {} };
    }
    const invocation = new Invocation(request, sink, this.definitions);
    this.inFlight++;
    void invocation.run().finally(() => {
      this.inFlight--;
      if (this.inFlight === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
    });
    return invocation;
  }

  async drain(graceMs: number): Promise<number> {
    if (this.inFlight === 0) return 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.inFlight;
  }

  private checkInvocation(request: InvocationRequest): FailureInfo | undefined {
    if (this.inFlight >= this.maxConcurrency) {
      return {
        message: `runtime is busy: ${this.inFlight} invocations running, its max concurrency is ${this.maxConcurrency}`,
        type: "runtime.busy",
        retryable: true,
      };
    }
    if (request.steps.length === 0) {
      return { message: "invocation has no steps", type: "step.invalid", retryable: false };
    }
    for (let index = 0; index < request.steps.length; index++) {
      const step = request.steps[index]!;
      const definition = this.definitions.get(step.nodeType);
      if (definition === undefined) {
        return {
          message: `node "${step.nodeId}": unknown node type "${step.nodeType}"; this runtime serves ${[...this.definitions.keys()].join(", ")}`,
          type: "node-type.unknown",
          retryable: false,
        };
      }
      for (const [port, input] of Object.entries(step.inputs)) {
        if (!("step" in input)) continue;
        const source = request.steps[input.step];
        if (input.step >= index || source === undefined) {
          return {
            message: `node "${step.nodeId}" input "${port}" refers to step ${input.step}, expected an earlier step than ${index}`,
            type: "step.invalid",
            retryable: false,
          };
        }
        const sourceDefinition = this.definitions.get(source.nodeType);
        if (sourceDefinition !== undefined && !(input.port in sourceDefinition.outputSchema.shape)) {
          return {
            message: `node "${step.nodeId}" input "${port}" refers to output "${input.port}" of node "${source.nodeId}" (${source.nodeType}), which has outputs ${Object.keys(sourceDefinition.outputSchema.shape).join(", ") || "(none)"}`,
            type: "step.invalid",
            retryable: false,
          };
        }
      }
    }
    return undefined;
  }
}

/** One running invocation: its steps in order, passing outputs along in memory. */
class Invocation implements InvocationControl {
  private context: StepContext | undefined;
  private cancelReason: string | undefined;

  constructor(
    private readonly request: InvocationRequest,
    private readonly sink: InvocationSink,
    private readonly definitions: Map<string, NodeDefinition>,
  ) {}

  cancel(reason: string): void {
    if (this.cancelReason !== undefined) return;
    this.cancelReason = reason;
    this.context?.abort(reason);
  }

  async run(): Promise<void> {
    // Start on a microtask, never inside execute(): a chain of synchronous nodes would otherwise recurse through
    // the scheduler once per node and overflow the stack on long chains.
    await undefined;
    const steps = this.request.steps;
    const outputs: Record<string, unknown>[] = new Array(steps.length);
    for (let index = 0; index < steps.length; index++) {
      if (this.cancelReason !== undefined) {
        this.sink.cancelled(index, this.cancelReason);
        return;
      }
      const result = await this.runStep(index, steps[index]!, outputs);
      if (result === undefined) return;
      outputs[index] = result;
    }
  }

  /** Runs one step and reports its events; gives its outputs, or undefined when the invocation must stop. */
  private async runStep(
    index: number,
    step: StepRequest,
    outputs: Record<string, unknown>[],
  ): Promise<Record<string, unknown> | undefined> {
    const definition = this.definitions.get(step.nodeType)!;
    const sink = this.sink;
    const label = `node "${step.nodeId}" (${step.nodeType})`;
    const startedAt = performance.now();
    const elapsedUs = () => Math.round((performance.now() - startedAt) * 1000);

    // started comes before the checks of inputs and config: a step that fails them was begun (docs/protocol.md §3.1).
    sink.started(index);
    let input: Record<string, unknown>;
    let config: unknown;
    try {
      const raw: Record<string, unknown> = {};
      let checked: Set<string> | undefined;
      for (const port in step.inputs) {
        if (!(port in definition.inputSchema.shape)) {
          const known = Object.keys(definition.inputSchema.shape);
          sink.failed(
            index,
            {
              message: `${label} has no input "${port}"; its inputs are: ${known.join(", ") || "(none)"}`,
              type: "input.invalid",
              retryable: false,
            },
            elapsedUs(),
          );
          return undefined;
        }
        const source = step.inputs[port]!;
        if ("step" in source) raw[port] = outputs[source.step]![source.port];
        else if ("stream" in source) {
          // A transport serving the ABI replaces Input.stream with the items' iterable before it gets here.
          sink.failed(
            index,
            {
              message: `${label}: input "${port}" is a stream from "${source.stream.nodeId}.${source.stream.port}" that no transport feeds`,
              type: "input.invalid",
              retryable: false,
            },
            elapsedUs(),
          );
          return undefined;
        } else {
          raw[port] = toLive(source.value);
          if (source.checked === true) {
            checked ??= new Set();
            checked.add(port);
          }
        }
      }
      const liveConfig = toLive(step.config) ?? {};
      const parsedConfig = definition.configSchema.safeParse(liveConfig);
      if (!parsedConfig.success) {
        sink.failed(
          index,
          invalid("config.invalid", label, parsedConfig.error.issues, "config", liveConfig),
          elapsedUs(),
        );
        return undefined;
      }
      config = parsedConfig.data;
      for (const port of streamPortsOf(definition.inputSchema).keys()) {
        // Items from another runtime come in their wire form: the node reads live values.
        const items = raw[port];
        if (isAsyncIterable(items)) raw[port] = liveItems(items);
      }
      const parsedInput = inputParserOf(definition).parse(raw, checked);
      if (!parsedInput.success) {
        sink.failed(
          index,
          invalid("input.invalid", label, parsedInput.error.issues, "input", raw),
          elapsedUs(),
        );
        return undefined;
      }
      input = parsedInput.data;
    } catch (error) {
      // A blob that cannot be read is blob.corrupt, not a retryable error of the node (docs/protocol.md §3.4).
      const failure: FailureInfo =
        error instanceof ValueError
          ? { message: error.message, type: error.type, retryable: false }
          : toFailureInfo(error);
      failure.message = `${label}: ${failure.message}`;
      sink.failed(index, failure, elapsedUs());
      return undefined;
    }

    const context = new StepContext(
      config,
      step.nodeId,
      step.nodeType,
      this.request.executionId,
      step.attempt,
      sink,
      index,
      step.resume,
    );
    this.context = context;
    // The host puts the node type's default_timeout_ms in the step when the blueprint sets none, so 0 means none.
    const timeoutMs = step.timeoutMs;
    let result: unknown;
    try {
      const traceRunner =
        step.traceparent === undefined && step.traceContext === undefined ? undefined : stepTraceRunner();
      let returned: unknown;
      if (traceRunner === undefined) returned = definition.run(input, context);
      else {
        const code = definition.run;
        const synchronous = synchronousCode.has(code);
        returned = traceRunner(
          step,
          this.request.executionId,
          () => definition.run(input, context),
          synchronous,
        );
        if (isPromiseLike(returned)) {
          if (synchronous) synchronousCode.delete(code);
          asyncCode.add(code);
        } else if (!synchronous && !asyncCode.has(code)) synchronousCode.add(code);
      }
      result =
        timeoutMs > 0
          ? await withTimeout(returned, timeoutMs, context, label)
          : returned instanceof Promise
            ? await returned
            : returned;
    } catch (error) {
      this.context = undefined;
      if (this.cancelReason !== undefined) {
        sink.cancelled(index, this.cancelReason);
      } else {
        sink.failed(index, toFailureInfo(error), elapsedUs());
      }
      return undefined;
    }
    this.context = undefined;
    if (this.cancelReason !== undefined) {
      sink.cancelled(index, this.cancelReason);
      return undefined;
    }
    const parsedOutput = outputParserOf(definition).parse(result ?? NO_OUTPUTS);
    if (!parsedOutput.success) {
      sink.failed(
        index,
        invalid("output.invalid", label, parsedOutput.error.issues, "output", result),
        elapsedUs(),
      );
      return undefined;
    }
    const streams = streamPortsOf(definition.outputSchema);
    if (streams.size > 0) {
      // Each item of a stream output is checked as it passes (items are produced after the step returned).
      for (const [port, item] of streams) {
        const value = parsedOutput.data[port];
        if (value !== undefined)
          parsedOutput.data[port] = checkedItems(value as AsyncIterable<unknown>, item, label, port);
      }
    }
    sink.completed(index, parsedOutput.data, elapsedUs());
    return parsedOutput.data;
  }
}

/**
 * The node code that a traced step may run without an AsyncLocalStorage frame of its own (see `StepTraceRunner`):
 * functions that have returned a value, never a promise, every time they ran. A function declared `async`, or that
 * once returned a promise, always gets a frame (the callbacks of its promises need the step's context).
 */
const synchronousCode = new WeakSet<(...args: never[]) => unknown>();
const asyncCode = new WeakSet<(...args: never[]) => unknown>();

function isPromiseLike(value: unknown): boolean {
  return (
    value instanceof Promise ||
    (typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function")
  );
}

/** The items of a stream input as live values (an item still in its wire form is decoded as it is read). */
async function* liveItems(items: AsyncIterable<unknown>): AsyncGenerator<unknown, void, undefined> {
  for await (const item of items) yield toLive(item);
}

/** A step's time budget passed: a retryable failure of type "timeout" (docs/protocol.md, section 3.3). */
class TimeoutError extends Error {
  override readonly name = "TimeoutError";

  get [failureInfoBrand](): true {
    return true;
  }

  toFailureInfo(): FailureInfo {
    return { message: this.message, type: "timeout", retryable: true };
  }
}

/**
 * Runs a node under its time budget: when it passes, the node's signal fires, and the step fails with a timeout
 * once the node has returned (whatever it returned), not before, because a step reported ended while its code
 * still runs would let a retry run beside it (docs/protocol.md, section 3.1). A node that ignores its signal is
 * the host's to stop: it restarts the runtime after the cancel grace.
 */
function withTimeout(
  returned: unknown,
  timeoutMs: number,
  context: StepContext,
  label: string,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let timedOut: TimeoutError | undefined;
    const timer = setTimeout(() => {
      const message = `${label} timed out after ${timeoutMs} ms`;
      timedOut = new TimeoutError(message);
      context.abort(message);
    }, timeoutMs);
    Promise.resolve(returned).then(
      (value) => {
        clearTimeout(timer);
        if (timedOut === undefined) resolve(value);
        else reject(timedOut);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(timedOut ?? error);
      },
    );
  });
}

function invalid(
  type: "config.invalid" | "input.invalid" | "output.invalid",
  label: string,
  issues: readonly z.core.$ZodIssue[],
  what: string,
  value: unknown,
): FailureInfo {
  return {
    message: `${label}: ${describeIssues(issues, what, value).join("; ")}`,
    type,
    retryable: false,
  };
}
