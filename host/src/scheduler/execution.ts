import type { InvocationControl } from "@conductor/sdk";
import {
  type FailureInfo,
  type InvocationRequest,
  type InvocationSink,
  type LogLevel,
  type StepInput,
  toLive,
} from "@conductor/sdk/protocol";
import type { EventHub, ExecutionStatus, NodeFailureRecord, NodeStatus } from "./execution-events.js";
import type { ExecutionPlan } from "./execution-plan.js";

/** What an execution recorded about one node. */
export interface NodeRecord {
  nodeId: string;
  type: string;
  runtime: string;
  status: NodeStatus;
  attempt: number;
  /** Milliseconds since the epoch, when it started. */
  startedAt?: number;
  durationMs?: number;
  /** Output values; values from other processes stay encoded until read (see `toLive`). */
  outputs?: Record<string, unknown>;
  failure?: FailureInfo;
}

/** The outcome of an execution. */
export interface ExecutionResult {
  executionId: string;
  blueprintId: string;
  status: ExecutionStatus;
  /** The blueprint's outputs, decoded. */
  outputs: Record<string, unknown>;
  /** The first node failure, when the execution failed. */
  failure?: NodeFailureRecord;
  startedAt: number;
  durationMs: number;
  nodes: Record<string, NodeRecord>;
}

/** Options of one execution. */
export interface ExecutionOptions {
  executionId: string;
  inputs: Record<string, unknown>;
  /** Most invocations of this execution running at once. */
  maxConcurrency: number;
  hub: EventHub;
}

/**
 * One run of a blueprint: the dispatch loop. It keeps per-node state in flat arrays, starts every node whose
 * inputs are ready (in parallel, up to the concurrency limit; runtimes queue beyond their own limits), passes
 * values from outputs to inputs, and finishes when nothing is running and nothing more can start. Policy (retry,
 * timeout, caching) and I/O (runtimes, store) live outside this loop.
 */
export class Execution {
  readonly executionId: string;
  readonly startedAt = Date.now();
  status: "running" | ExecutionStatus = "running";
  readonly result: Promise<ExecutionResult>;

  private readonly graph: ExecutionPlan["graph"];
  private readonly statuses: NodeStatus[];
  private readonly outputs: (Record<string, unknown> | undefined)[];
  private readonly attempts: number[];
  private readonly startTimes: number[];
  private readonly durations: number[];
  private readonly failures: (FailureInfo | undefined)[];
  private readonly waitingOn: number[];
  private readonly ready: number[] = [];
  private readyHead = 0;
  private running = 0;
  private readonly controls = new Set<InvocationControl>();
  private stopping: "failed" | "cancelled" | undefined;
  private firstFailure: NodeFailureRecord | undefined;
  private seq = 0;
  private resolveResult!: (result: ExecutionResult) => void;
  private readonly startClock = performance.now();

  constructor(
    private readonly plan: ExecutionPlan,
    private readonly options: ExecutionOptions,
  ) {
    this.executionId = options.executionId;
    this.graph = plan.graph;
    const count = this.graph.nodes.length;
    this.statuses = new Array<NodeStatus>(count).fill("pending");
    this.outputs = new Array(count).fill(undefined);
    this.attempts = new Array<number>(count).fill(0);
    this.startTimes = new Array<number>(count).fill(0);
    this.durations = new Array<number>(count).fill(0);
    this.failures = new Array(count).fill(undefined);
    this.waitingOn = this.graph.nodes.map((node) => node.predecessors.length);
    this.result = new Promise((resolve) => {
      this.resolveResult = resolve;
    });
  }

  /** Starts every node without predecessors. */
  start(): void {
    const hub = this.options.hub;
    if (hub.active) {
      hub.emit({
        type: "execution.started",
        executionId: this.executionId,
        seq: ++this.seq,
        at: this.startedAt,
        blueprintId: this.graph.id,
        inputs: this.options.inputs,
      });
    }
    for (const index of this.graph.order) {
      if (this.waitingOn[index] === 0) this.ready.push(index);
    }
    this.pump();
    this.maybeFinish();
  }

  /** Cancels the execution: running nodes get their cancellation signal, nothing new starts. */
  cancel(reason = "cancelled"): void {
    if (this.status !== "running" || this.stopping === "cancelled") return;
    this.stopping = "cancelled";
    for (const control of this.controls) control.cancel(reason);
    this.maybeFinish();
  }

  /** The state of every node now. */
  nodeRecords(): Record<string, NodeRecord> {
    const records: Record<string, NodeRecord> = {};
    for (const node of this.graph.nodes) {
      const index = node.index;
      const record: NodeRecord = {
        nodeId: node.id,
        type: node.type,
        runtime: node.runtime,
        status: this.statuses[index]!,
        attempt: this.attempts[index]!,
      };
      if (this.startTimes[index]! > 0) {
        record.startedAt = this.startTimes[index]!;
        record.durationMs = this.durations[index]!;
      }
      const outputs = this.outputs[index];
      if (outputs !== undefined) record.outputs = outputs;
      const failure = this.failures[index];
      if (failure !== undefined) record.failure = failure;
      records[node.id] = record;
    }
    return records;
  }

  private pump(): void {
    const limit = this.options.maxConcurrency;
    while (this.stopping === undefined && this.readyHead < this.ready.length && this.running < limit) {
      this.dispatch(this.ready[this.readyHead++]!);
    }
    if (this.readyHead === this.ready.length && this.readyHead > 0) {
      this.ready.length = 0;
      this.readyHead = 0;
    }
  }

  /** Sends a node, or the chain it heads, to its runtime as one invocation. */
  private dispatch(head: number): void {
    const unit = this.plan.chains[head] ?? [head];
    const steps = new Array<InvocationRequest["steps"][number]>(unit.length);
    const hub = this.options.hub;
    for (let step = 0; step < unit.length; step++) {
      const index = unit[step]!;
      const node = this.graph.nodes[index]!;
      const inputs: Record<string, StepInput> = {};
      for (const port in node.inputs) {
        const binding = node.inputs[port]!;
        if (binding.kind === "node") {
          const inUnit = step > 0 ? unit.indexOf(binding.node, 0) : -1;
          if (inUnit >= 0 && inUnit < step) inputs[port] = { step: inUnit, port: binding.port };
          else {
            const value = this.outputs[binding.node]?.[binding.port];
            if (value !== undefined) inputs[port] = { value };
          }
        } else if (binding.kind === "input") {
          const value = this.options.inputs[binding.name];
          if (value !== undefined) inputs[port] = { value };
        } else {
          inputs[port] = { value: binding.value };
        }
      }
      this.statuses[index] = "queued";
      this.attempts[index]!++;
      steps[step] = {
        nodeId: node.id,
        nodeType: node.type,
        attempt: this.attempts[index]!,
        config: node.config,
        inputs,
        timeoutMs: node.timeoutMs,
      };
      if (hub.active) {
        hub.emit({
          type: "node.queued",
          executionId: this.executionId,
          seq: ++this.seq,
          at: Date.now(),
          nodeId: node.id,
        });
      }
    }
    this.running++;
    const sink = new UnitSink(this, unit);
    const control = this.plan.runtimes[head]!.execute(
      { invocationId: 0, executionId: this.executionId, steps },
      sink,
    );
    if (!sink.ended) {
      sink.control = control;
      this.controls.add(control);
    }
  }

  onStarted(index: number): void {
    this.statuses[index] = "running";
    this.startTimes[index] = Date.now();
    const hub = this.options.hub;
    if (hub.active) {
      const node = this.graph.nodes[index]!;
      hub.emit({
        type: "node.started",
        executionId: this.executionId,
        seq: ++this.seq,
        at: this.startTimes[index]!,
        nodeId: node.id,
        attempt: this.attempts[index]!,
        runtime: node.runtime,
        inputs: this.inputsOf(index),
      });
    }
  }

  /** The values a node's inputs are bound to now (for events; the runtime gets them through the invocation). */
  private inputsOf(index: number): Record<string, unknown> {
    const inputs: Record<string, unknown> = {};
    const node = this.graph.nodes[index]!;
    for (const port in node.inputs) {
      const binding = node.inputs[port]!;
      const value =
        binding.kind === "node"
          ? this.outputs[binding.node]?.[binding.port]
          : binding.kind === "input"
            ? this.options.inputs[binding.name]
            : binding.value;
      if (value !== undefined) inputs[port] = value;
    }
    return inputs;
  }

  onLog(index: number, level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void {
    const hub = this.options.hub;
    if (!hub.active) return;
    hub.emit({
      type: "node.log",
      executionId: this.executionId,
      seq: ++this.seq,
      at: Date.now(),
      nodeId: this.graph.nodes[index]!.id,
      level,
      message,
      ...(fields === undefined ? {} : { fields }),
    });
  }

  onProgress(index: number, fraction: number, message: string): void {
    const hub = this.options.hub;
    if (!hub.active) return;
    hub.emit({
      type: "node.progress",
      executionId: this.executionId,
      seq: ++this.seq,
      at: Date.now(),
      nodeId: this.graph.nodes[index]!.id,
      fraction,
      message,
    });
  }

  onChunk(index: number, port: string, value: unknown): void {
    const hub = this.options.hub;
    if (!hub.active) return;
    hub.emit({
      type: "node.chunk",
      executionId: this.executionId,
      seq: ++this.seq,
      at: Date.now(),
      nodeId: this.graph.nodes[index]!.id,
      port,
      value,
    });
  }

  onHeartbeat(index: number): void {
    const hub = this.options.hub;
    if (!hub.active) return;
    hub.emit({
      type: "node.heartbeat",
      executionId: this.executionId,
      seq: ++this.seq,
      at: Date.now(),
      nodeId: this.graph.nodes[index]!.id,
    });
  }

  onCompleted(index: number, outputs: Record<string, unknown>, durationUs: number, unitEnded: boolean): void {
    this.statuses[index] = "completed";
    this.outputs[index] = outputs;
    this.durations[index] = durationUs / 1000;
    const hub = this.options.hub;
    if (hub.active) {
      hub.emit({
        type: "node.completed",
        executionId: this.executionId,
        seq: ++this.seq,
        at: Date.now(),
        nodeId: this.graph.nodes[index]!.id,
        outputs,
        durationMs: durationUs / 1000,
      });
    }
    const successors = this.graph.nodes[index]!.successors;
    for (let i = 0; i < successors.length; i++) {
      const successor = successors[i]!;
      if (--this.waitingOn[successor]! === 0 && this.statuses[successor] === "pending")
        this.ready.push(successor);
    }
    if (unitEnded) this.running--;
    this.pump();
    this.maybeFinish();
  }

  onFailed(index: number, failure: FailureInfo, durationUs: number, unit: readonly number[]): void {
    this.statuses[index] = "failed";
    this.failures[index] = failure;
    this.durations[index] = durationUs / 1000;
    if (this.startTimes[index] === 0) this.startTimes[index] = Date.now();
    const node = this.graph.nodes[index]!;
    this.releaseRest(unit, index);
    const hub = this.options.hub;
    if (hub.active) {
      hub.emit({
        type: "node.failed",
        executionId: this.executionId,
        seq: ++this.seq,
        at: Date.now(),
        nodeId: node.id,
        failure,
        durationMs: durationUs / 1000,
      });
    }
    if (this.firstFailure === undefined) this.firstFailure = { nodeId: node.id, ...failure };
    // Nothing new starts; nodes already running finish and their results are kept.
    if (this.stopping === undefined) this.stopping = "failed";
    this.running--;
    this.maybeFinish();
  }

  onCancelled(index: number, reason: string, unit: readonly number[]): void {
    this.statuses[index] = "cancelled";
    this.releaseRest(unit, index);
    const hub = this.options.hub;
    if (hub.active) {
      hub.emit({
        type: "node.cancelled",
        executionId: this.executionId,
        seq: ++this.seq,
        at: Date.now(),
        nodeId: this.graph.nodes[index]!.id,
        reason,
      });
    }
    if (this.stopping === undefined) {
      // A runtime cancelled a step the execution did not cancel (e.g. its runtime is shutting down).
      this.stopping = "failed";
      this.firstFailure ??= {
        nodeId: this.graph.nodes[index]!.id,
        message: reason,
        type: "cancelled",
        retryable: true,
      };
    }
    this.running--;
    this.maybeFinish();
  }

  /** Steps of a unit after the one that ended it never ran: they go back to pending. */
  private releaseRest(unit: readonly number[], index: number): void {
    const position = unit.indexOf(index);
    for (let i = position + 1; i < unit.length; i++) {
      this.statuses[unit[i]!] = "pending";
      this.attempts[unit[i]!]!--;
    }
  }

  forget(control: InvocationControl | undefined): void {
    if (control !== undefined) this.controls.delete(control);
  }

  private maybeFinish(): void {
    if (this.status !== "running" || this.running > 0) return;
    if (this.stopping === undefined && this.readyHead < this.ready.length) return;
    const status: ExecutionStatus =
      this.stopping === "cancelled" ? "cancelled" : this.firstFailure !== undefined ? "failed" : "completed";
    if (status === "completed" && this.statuses.some((s) => s !== "completed" && s !== "skipped")) {
      // Cannot happen for a validated acyclic graph; reported rather than hidden.
      this.firstFailure = {
        nodeId: this.graph.nodes[this.statuses.findIndex((s) => s !== "completed")]!.id,
        message: "the scheduler stopped with nodes that never ran; this is a bug in the host",
        type: "internal",
        retryable: false,
      };
    }
    this.finish(this.firstFailure !== undefined && status === "completed" ? "failed" : status);
  }

  private finish(status: ExecutionStatus): void {
    this.status = status;
    const outputs: Record<string, unknown> = {};
    for (const [name, binding] of Object.entries(this.graph.outputs)) {
      const value =
        binding.kind === "node"
          ? this.outputs[binding.node]?.[binding.port]
          : this.options.inputs[binding.name];
      if (value !== undefined) outputs[name] = toLive(value);
    }
    const durationMs = performance.now() - this.startClock;
    const hub = this.options.hub;
    if (hub.active) {
      hub.emit({
        type: "execution.finished",
        executionId: this.executionId,
        seq: ++this.seq,
        at: Date.now(),
        status,
        outputs,
        ...(this.firstFailure === undefined ? {} : { failure: this.firstFailure }),
        durationMs,
      });
    }
    const execution = this;
    const result: ExecutionResult = {
      executionId: this.executionId,
      blueprintId: this.graph.id,
      status,
      outputs,
      startedAt: this.startedAt,
      durationMs,
      // Built on demand: most callers only read the outputs.
      get nodes() {
        return execution.nodeRecords();
      },
    };
    if (this.firstFailure !== undefined) result.failure = this.firstFailure;
    this.resolveResult(result);
  }
}

/** Maps the events of one invocation (a node or a chain) to the execution's nodes. */
class UnitSink implements InvocationSink {
  ended = false;
  control: InvocationControl | undefined;

  constructor(
    private readonly execution: Execution,
    private readonly unit: readonly number[],
  ) {}

  started(step: number): void {
    this.execution.onStarted(this.unit[step]!);
  }

  log(step: number, level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void {
    this.execution.onLog(this.unit[step]!, level, message, fields);
  }

  progress(step: number, fraction: number, message: string): void {
    this.execution.onProgress(this.unit[step]!, fraction, message);
  }

  chunk(step: number, port: string, value: unknown): void {
    this.execution.onChunk(this.unit[step]!, port, value);
  }

  heartbeat(step: number): void {
    this.execution.onHeartbeat(this.unit[step]!);
  }

  completed(step: number, outputs: Record<string, unknown>, durationUs: number): void {
    const last = step === this.unit.length - 1;
    if (last) this.end();
    this.execution.onCompleted(this.unit[step]!, outputs, durationUs, last);
  }

  failed(step: number, failure: FailureInfo, durationUs: number): void {
    this.end();
    this.execution.onFailed(this.unit[step]!, failure, durationUs, this.unit);
  }

  cancelled(step: number, reason: string): void {
    this.end();
    this.execution.onCancelled(this.unit[step]!, reason, this.unit);
  }

  rejected(failure: FailureInfo): void {
    this.end();
    this.execution.onFailed(this.unit[0]!, failure, 0, this.unit);
  }

  private end(): void {
    this.ended = true;
    this.execution.forget(this.control);
  }
}
