/**
 * Test support for the core nodes: runs one node through `createNodeRuntime`, the same path the host takes, and
 * records every event the runtime reports.
 */
import {
  createNodeRuntime,
  type InvocationControl,
  type NodeDefinition,
  type NodeRuntime,
} from "@conductor/sdk";
import type { FailureInfo, InvocationSink, LogLevel } from "@conductor/sdk/protocol";

/** Options of {@link runNode} and {@link startNode}. */
export interface RunNodeOptions {
  config?: unknown;
  inputs?: Record<string, unknown>;
  /** The step's time budget in milliseconds; 0 (the default) for none. */
  timeoutMs?: number;
}

/** What one run of a node reported, in order. */
export interface NodeRun {
  /** The event names in order, e.g. `["started", "chunk", "completed"]`. */
  events: string[];
  /** The outputs, when the node completed. */
  outputs: Record<string, unknown> | undefined;
  /** The failure, when the node failed (or the invocation was rejected). */
  failure: FailureInfo | undefined;
  /** The reason, when the node was cancelled. */
  cancelled: string | undefined;
  chunks: { port: string; value: unknown }[];
  logs: { level: LogLevel; message: string; fields: Record<string, unknown> | undefined }[];
  progress: { fraction: number; message: string }[];
}

/** A node run under way. */
export interface StartedNode {
  control: InvocationControl;
  /** The events so far, filled in as they arrive. */
  run: NodeRun;
  done: Promise<NodeRun>;
}

const runtimes = new WeakMap<NodeDefinition, NodeRuntime>();

/** The runtime serving only `node`, made once per node definition. */
export function runtimeFor(node: NodeDefinition): NodeRuntime {
  let runtime = runtimes.get(node);
  if (runtime === undefined) {
    runtime = createNodeRuntime({ nodes: [node] });
    runtimes.set(node, runtime);
  }
  return runtime;
}

/** Starts one step of `node`; use `control` to cancel it. */
export function startNode(node: NodeDefinition, options: RunNodeOptions = {}): StartedNode {
  const run: NodeRun = {
    events: [],
    outputs: undefined,
    failure: undefined,
    cancelled: undefined,
    chunks: [],
    logs: [],
    progress: [],
  };
  let finish!: (run: NodeRun) => void;
  const done = new Promise<NodeRun>((resolve) => {
    finish = resolve;
  });
  const sink: InvocationSink = {
    started: () => run.events.push("started"),
    log: (_step, level, message, fields) => {
      run.events.push("log");
      run.logs.push({ level, message, fields });
    },
    progress: (_step, fraction, message) => {
      run.events.push("progress");
      run.progress.push({ fraction, message });
    },
    chunk: (_step, port, value) => {
      run.events.push("chunk");
      run.chunks.push({ port, value });
    },
    heartbeat: () => run.events.push("heartbeat"),
    completed: (_step, outputs) => {
      run.events.push("completed");
      run.outputs = outputs;
      finish(run);
    },
    failed: (_step, failure) => {
      run.events.push("failed");
      run.failure = failure;
      finish(run);
    },
    cancelled: (_step, reason) => {
      run.events.push("cancelled");
      run.cancelled = reason;
      finish(run);
    },
    rejected: (failure) => {
      run.events.push("rejected");
      run.failure = failure;
      finish(run);
    },
  };
  const inputs: Record<string, { value: unknown }> = {};
  for (const [port, value] of Object.entries(options.inputs ?? {})) inputs[port] = { value };
  const control = runtimeFor(node).execute(
    {
      invocationId: 1,
      executionId: "test-execution",
      steps: [
        {
          nodeId: "subject",
          nodeType: node.type,
          attempt: 1,
          config: options.config ?? {},
          inputs,
          timeoutMs: options.timeoutMs ?? 0,
        },
      ],
    },
    sink,
  );
  return { control, run, done };
}

/** Runs one step of `node` to its end. */
export function runNode(node: NodeDefinition, options: RunNodeOptions = {}): Promise<NodeRun> {
  return startNode(node, options).done;
}

/** The outputs of a run that must have completed; throws with the failure otherwise, so a test shows why. */
export function outputsOf(run: NodeRun): Record<string, unknown> {
  if (run.outputs === undefined) {
    throw new Error(
      `expected the node to complete, found ${run.failure === undefined ? `events ${run.events.join(", ")}` : `failure ${JSON.stringify(run.failure)}`}`,
    );
  }
  return run.outputs;
}
