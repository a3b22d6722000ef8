import type { InvocationControl } from "@conductor/sdk";
import type {
  FailureInfo,
  InvocationRequest,
  InvocationSink,
  NodeType,
  RuntimeDescription,
} from "@conductor/sdk/protocol";
import type { ConfigDiagnostic } from "../blueprint/validate-blueprint.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import type { WasmFault, WasmModulePlan } from "./wasm-call.js";
import type { WasmExecutor } from "./wasm-executor.js";
import type { WasmNodeType } from "./wasm-manifest.js";
import { checkValue, checkValueDiagnostics } from "./wasm-schema-check.js";

/** A module ready to run: its plan (compiled, capped) and the node types its manifest declares. */
export interface LoadedWasmModule {
  plan: WasmModulePlan;
  nodeTypes: readonly WasmNodeType[];
}

/** Options of {@link createWasmRuntime}. */
export interface WasmRuntimeOptions {
  /** The runtime's name in the project, e.g. "wasm". */
  name: string;
  modules: readonly LoadedWasmModule[];
  executor: WasmExecutor;
  /** The time limit of one call in milliseconds, when the node's own timeout is not lower; 0 for none. */
  timeLimitMs: number;
  /** Most calls at once (the executor's pool size). */
  maxConcurrency: number;
  /**
   * Turns an input in wire form into a live value (the sdk's `toLive` in the Node host). Given by the platform,
   * because the sdk's value codecs import Node built-ins; in a page every value is live already.
   */
  toLive?: (value: unknown) => unknown;
}

/**
 * The WebAssembly runtime: node types compiled to WebAssembly, served through the same ABI as every runtime. Each
 * call gets a fresh instance of its module in a worker, with the memory cap written into the module and the time
 * limit enforced by terminating the worker; inputs, config and outputs are checked against the manifest's JSON
 * Schemas here, so a module never sees a value its schema refuses and a malformed answer fails its node.
 * Platform-free: the platform gives the executor (worker threads in Node, Web Workers in a page).
 */
export function createWasmRuntime(options: WasmRuntimeOptions): RuntimeConnection {
  return new WasmRuntime(options);
}

class WasmRuntime implements RuntimeConnection {
  readonly name: string;
  readonly description: RuntimeDescription;
  readonly supportsSteps = false;
  readonly checksOutputs = true;
  readonly nodeTypes: NodeType[];
  private readonly byType = new Map<
    string,
    { plan: WasmModulePlan; exportName: string; nodeType: NodeType }
  >();

  constructor(private readonly options: WasmRuntimeOptions) {
    this.name = options.name;
    for (const module of options.modules) {
      for (const { nodeType, exportName } of module.nodeTypes)
        this.byType.set(nodeType.type, { plan: module.plan, exportName, nodeType });
    }
    this.nodeTypes = [...this.byType.values()].map((entry) => entry.nodeType);
    this.description = {
      abiVersion: 1,
      name: options.name,
      language: "wasm",
      version: "0.1.0",
      pid: 0,
      features: [],
      maxConcurrency: options.maxConcurrency,
      maxMessageBytes: 0,
      schemaHash: "",
    };
  }

  findNodeType(type: string): NodeType | undefined {
    return this.byType.get(type)?.nodeType;
  }

  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl {
    const step = request.steps[0];
    const entry = step === undefined ? undefined : this.byType.get(step.nodeType);
    if (step === undefined || entry === undefined || request.steps.length !== 1) {
      sink.rejected({
        message: `runtime "${this.name}" does not serve node type "${step?.nodeType ?? "(none)"}" in a one-step invocation`,
        type: "runtime.unknown-node-type",
        retryable: false,
      });
      return { cancel() {} };
    }
    const started = performance.now();
    const elapsedUs = () => Math.round((performance.now() - started) * 1000);
    const label = `wasm module "${entry.plan.name}" (node type "${step.nodeType}")`;
    sink.started(0);
    const fail = (failure: FailureInfo) => sink.failed(0, failure, elapsedUs());
    const inputs: Record<string, unknown> = {};
    for (const port of entry.nodeType.inputs) {
      const given = step.inputs[port.name];
      const value =
        given !== undefined && "value" in given
          ? (this.options.toLive?.(given.value) ?? given.value)
          : undefined;
      if (value === undefined) {
        if (port.required) {
          fail({
            message: `${label}: missing required input "${port.name}"`,
            type: "wasm.input",
            retryable: false,
          });
          return { cancel() {} };
        }
        continue;
      }
      if (!(given as { checked?: boolean }).checked) {
        const problem = checkValue(port.schema, value);
        if (problem !== undefined) {
          fail({
            message: `${label}: input "${port.name}" ${problem}`,
            type: "wasm.input",
            retryable: false,
          });
          return { cancel() {} };
        }
      }
      inputs[port.name] = value;
    }
    const limit = this.options.timeLimitMs;
    const timeoutMs = step.timeoutMs > 0 && (limit === 0 || step.timeoutMs < limit) ? step.timeoutMs : limit;
    const handle = this.options.executor.call(
      entry.plan,
      { exportName: entry.exportName, config: step.config ?? {}, inputs },
      timeoutMs,
    );
    let cancelled: string | undefined;
    void handle.result.then((result) => {
      for (const line of result.logs) sink.log(0, line.level, line.message, undefined);
      if (cancelled !== undefined) {
        sink.cancelled(0, cancelled);
        return;
      }
      if (!result.ok) {
        fail(toFailure(result.fault, entry.plan, step.nodeType));
        return;
      }
      for (const port of entry.nodeType.outputs) {
        const value = result.outputs[port.name];
        const problem =
          value === undefined ? (port.required ? "is missing" : undefined) : checkValue(port.schema, value);
        if (problem !== undefined) {
          fail({
            message: `${label} returned malformed data: output "${port.name}" ${problem}`,
            type: "wasm.malformed",
            retryable: false,
            details: { module: entry.plan.name },
          });
          return;
        }
      }
      sink.completed(0, result.outputs, elapsedUs());
    });
    return {
      cancel(reason) {
        cancelled ??= reason;
        handle.cancel(reason);
      },
    };
  }

  async validateConfig(nodeType: string, config: Record<string, unknown>): Promise<ConfigDiagnostic[]> {
    const entry = this.byType.get(nodeType);
    if (entry === undefined) return [];
    return checkValueDiagnostics(entry.nodeType.configSchema, config);
  }

  async close(): Promise<void> {
    await this.options.executor.close();
  }
}

function toFailure(fault: WasmFault, plan: WasmModulePlan, nodeType: string): FailureInfo {
  if (fault.kind === "failure")
    return {
      message: `wasm module "${plan.name}" (node type "${nodeType}") failed: ${fault.message}`,
      type: fault.type ?? "wasm.failure",
      retryable: fault.retryable ?? false,
      details: { module: plan.name },
    };
  const limits: Record<string, unknown> = { module: plan.name };
  if (fault.kind === "memory") limits.memoryCapBytes = plan.maximumPages * 65_536;
  return {
    message: fault.message,
    type: `wasm.${fault.kind}`,
    // A loop past its time limit may finish with more time; a trap, a bad export or bad data will not change.
    retryable: fault.kind === "timeout",
    details: limits,
  };
}
