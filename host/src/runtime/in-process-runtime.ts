import {
  createNodeRuntime,
  type InvocationControl,
  type NodeDefinition,
  type NodeRuntime,
} from "@conductor/sdk";
import {
  FEATURES,
  type InvocationRequest,
  type InvocationSink,
  observeSink,
  type RuntimeDescription,
} from "@conductor/sdk/protocol";
import type { ConfigDiagnostic } from "../blueprint/validate-blueprint.js";
import type { RuntimeConnection } from "./runtime-connection.js";

/** Options of {@link createInProcessRuntime}. */
export interface InProcessRuntimeOptions {
  /** The runtime's name in the project; default "builtin". */
  name?: string;
  nodes: readonly NodeDefinition[];
  /** Most invocations at once; default 1024 (in-process nodes are mostly awaiting I/O). */
  maxConcurrency?: number;
}

/**
 * Runs TypeScript nodes inside the host through the same ABI as every other runtime: the sdk's node runtime gets
 * the same invocation and answers with the same events, only without encoding, so a value passes from node to
 * node as the object it is.
 */
export function createInProcessRuntime(options: InProcessRuntimeOptions): RuntimeConnection {
  const runtime = createNodeRuntime({ nodes: options.nodes, maxConcurrency: options.maxConcurrency ?? 1024 });
  return new InProcessRuntime(options.name ?? "builtin", runtime);
}

class InProcessRuntime implements RuntimeConnection {
  readonly description: RuntimeDescription;
  readonly supportsSteps = false;
  // The sdk's node runtime parses every node's outputs with its output schema before reporting them.
  readonly checksOutputs = true;
  readonly takesLiveValues = true;
  private readonly waiting: { request: InvocationRequest; sink: InvocationSink; control: QueuedControl }[] =
    [];

  constructor(
    readonly name: string,
    private readonly runtime: NodeRuntime,
  ) {
    this.description = {
      abiVersion: 1,
      name,
      language: "typescript",
      version: "0.1.0",
      // A page or a Web Worker has no process: the runtime is the page itself.
      pid: typeof process === "undefined" ? 0 : process.pid,
      // Values reach it live or in wire form, tables and blobs included (the sdk decodes them).
      features: [FEATURES.arrow, FEATURES.blob, FEATURES.streams, FEATURES.checkpoints],
      maxConcurrency: runtime.maxConcurrency,
      maxMessageBytes: 0,
      // Computed by the runtime on demand; an in-process runtime is never cached by hash.
      schemaHash: "",
    };
  }

  get nodeTypes() {
    return this.runtime.nodeTypes;
  }

  findNodeType(type: string) {
    return this.runtime.nodeType(type);
  }

  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl {
    if (this.runtime.inFlight < this.runtime.maxConcurrency)
      return this.runtime.execute(request, this.release(sink));
    const control = new QueuedControl();
    this.waiting.push({ request, sink, control });
    return control;
  }

  async validateConfig(nodeType: string, config: Record<string, unknown>): Promise<ConfigDiagnostic[]> {
    return this.runtime.validateConfig(nodeType, config).map((d) => ({ path: d.path, message: d.message }));
  }

  async close(): Promise<void> {
    await this.runtime.drain(5_000);
  }

  /** Wraps a sink so that a queued invocation starts when one ends (in-process invocations have one step). */
  private release(sink: InvocationSink): InvocationSink {
    if (this.waiting.length === 0 && this.runtime.inFlight < this.runtime.maxConcurrency - 1) return sink;
    return observeSink(sink, { onEnd: () => queueMicrotask(() => this.startWaiting()) });
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.runtime.inFlight < this.runtime.maxConcurrency) {
      const { request, sink, control } = this.waiting.shift()!;
      if (control.cancelReason !== undefined) {
        sink.cancelled(0, control.cancelReason);
        continue;
      }
      control.attach(this.runtime.execute(request, this.release(sink)));
    }
  }
}

/** Control of an invocation still waiting for a slot. */
class QueuedControl implements InvocationControl {
  cancelReason: string | undefined;
  private inner: InvocationControl | undefined;

  attach(inner: InvocationControl): void {
    this.inner = inner;
    if (this.cancelReason !== undefined) inner.cancel(this.cancelReason);
  }

  cancel(reason: string): void {
    this.cancelReason = reason;
    this.inner?.cancel(reason);
  }
}
