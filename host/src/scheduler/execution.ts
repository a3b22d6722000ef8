import {
  EncodedValue,
  type FailureInfo,
  type InvocationRequest,
  type StepInput,
  type StepRequest,
  toFailureInfo,
  toLive,
} from "@conductor/sdk/protocol";
import { ERROR_PORT, type GraphNode } from "../blueprint/blueprint-graph.js";
import { ExecutionStreams, type StreamOutcome } from "../streaming/execution-streams.js";
import type { StreamState } from "../streaming/stream-channel.js";
import { cacheKey } from "./cache-key.js";
import { conditionHolds } from "./condition.js";
import type {
  CompensationRecord,
  ExecutionEvent,
  ExecutionStatus,
  NodeFailureRecord,
  NodeStatus,
} from "./execution-events.js";
import type { ExecutionPlan } from "./execution-plan.js";
import type { ExecutionOptions, ExecutionResult, NodeRecord } from "./execution-types.js";
import { HeartbeatWatch } from "./heartbeat-watch.js";
import { type MapOutcome, MapRun } from "./map-run.js";
import { decideInputs, failureAsJson, type InputSources } from "./node-inputs.js";
import { retryDelay } from "./retry-policy.js";
import { UnitSink } from "./unit-sink.js";

/** The statuses of a node that has ended (a resumed execution's finished nodes among them). */
const ENDED: ReadonlySet<NodeStatus> = new Set(["completed", "cached", "failed", "cancelled", "skipped"]);

export type {
  Durability,
  ExecutionOptions,
  ExecutionResult,
  NodeRecord,
  ResultCache,
  ResumeState,
} from "./execution-types.js";

type Unit = readonly number[];

/**
 * One run of a blueprint: the dispatch loop. Per-node state lives in flat arrays; a node starts when every node it
 * reads from has finished, in parallel up to the concurrency limit (runtimes queue beyond their own limits).
 * Policy lives in small modules beside this one: input resolution and skipping (node-inputs), conditions
 * (condition), retries (retry-policy), heartbeats (heartbeat-watch), map fan-out (map-run), result caching
 * (cache-key), resumption (resume-state); I/O goes through the runtime connections and the durability barrier.
 *
 * Longer than most files (about 800 lines) because it is one state machine: every transition of a node's state
 * is here, so that the invariants between the arrays (status, outputs, attempts, waiting counts) are checked in
 * one place. What does not touch those arrays lives in the modules above.
 */
export class Execution implements InputSources {
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
  private readonly cacheKeys: (string | undefined)[];
  /** Failures decided by the host for a running node (a missed heartbeat), reported when its runtime stops it. */
  private readonly hostFailures: (FailureInfo | undefined)[];
  private readonly heartbeats = new HeartbeatWatch();
  private readonly retryTimers = new Map<number, NodeJS.Timeout>();
  private readonly units = new Set<UnitSink>();
  private readonly maps = new Map<number, MapRun>();
  private readonly completionOrder: number[] = [];
  private readonly handledFailures: NodeFailureRecord[] = [];
  private compensations: CompensationRecord[] = [];
  private readonly ready: number[] = [];
  private readyHead = 0;
  /** Units in flight, plus reserved slots (a condition being evaluated, a retry waiting, a durability barrier). */
  private running = 0;
  private stopping: "failed" | "cancelled" | undefined;
  private firstFailure: NodeFailureRecord | undefined;
  private compensating = false;
  private seq: number;
  private resolveResult!: (result: ExecutionResult) => void;
  private readonly startClock = performance.now();
  /** The streams between nodes, for a plan that has some (docs/streaming.md). */
  private readonly streams: ExecutionStreams | undefined;
  /** Producers whose stream readers were released when they started streaming, not when they finished. */
  private readonly releasedEarly = new Set<number>();
  /** Producers stopped because their readers stopped, waiting for those readers to end (to tell why). */
  private readonly stoppedStreams = new Map<number, StreamOutcome>();
  /** Readers stopped because their producer's stream restarts: they run again when it streams again. */
  private readonly restarting = new Set<number>();

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
    this.cacheKeys = new Array(count).fill(undefined);
    this.hostFailures = new Array(count).fill(undefined);
    this.waitingOn = this.graph.nodes.map((node) => node.predecessors.length);
    this.seq = options.resume?.lastSeq ?? 0;
    if (plan.streams.some((streams) => streams !== undefined)) {
      this.streams = new ExecutionStreams(plan, {
        opened: (producer) => this.onStreamOpened(producer),
        settled: (producer, outcome) => this.onStreamSettled(producer, outcome),
        progress: (producer, port, items, state) => this.onStreamProgress(producer, port, items, state),
        ended: (consumer) => ENDED.has(this.statuses[consumer]!),
        retryFromCheckpoint: (producer, failure) => this.retryFromCheckpoint(producer, failure),
        resumed: (producer) => {
          this.statuses[producer] = "running";
        },
      });
    }
    this.result = new Promise((resolve) => {
      this.resolveResult = resolve;
    });
  }

  /** Starts every node that can start (for a resumed execution: every node the journal has not seen finish). */
  start(): void {
    this.started = true;
    const resume = this.options.resume;
    if (this.options.hub.active) {
      this.emit({
        type: "execution.started",
        executionId: this.executionId,
        seq: ++this.seq,
        at: this.startedAt,
        blueprintId: this.graph.id,
        inputs: this.options.inputs,
        ...(resume === undefined || resume.replay === true ? {} : { resumed: true }),
        ...(this.options.lineage === undefined ? {} : { lineage: this.options.lineage }),
        ...(this.options.trace?.traceparent === undefined
          ? {}
          : { traceparent: this.options.trace.traceparent }),
      });
    }
    if (resume !== undefined) {
      for (const [index, attempt] of resume.attempts) this.attempts[index] = attempt;
      for (const finished of resume.finished) {
        this.statuses[finished.index] = finished.status;
        this.attempts[finished.index] = finished.attempt;
        if (finished.outputs !== undefined) this.outputs[finished.index] = finished.outputs;
        if (finished.failure !== undefined) this.failures[finished.index] = finished.failure;
        if (finished.status === "completed" || finished.status === "cached")
          this.completionOrder.push(finished.index);
        for (const successor of this.graph.nodes[finished.index]!.successors) this.waitingOn[successor]!--;
        if (resume.replay === true && finished.outputs !== undefined) {
          // A re-run reuses another execution's results: they appear as cached completions.
          this.statuses[finished.index] = "cached";
          if (this.options.hub.active) {
            this.emitNode(finished.index, {
              type: "node.completed",
              outputs: finished.outputs,
              durationMs: 0,
              cached: true,
            });
          }
        }
      }
      if (resume.failed !== undefined) {
        const { index, failure } = resume.failed;
        this.statuses[index] = "failed";
        this.failures[index] = failure;
        this.firstFailure = { nodeId: this.graph.nodes[index]!.id, ...failure };
        if (this.stopping === undefined) this.stopping = "failed";
      }
    }
    for (const index of this.graph.order) {
      if (this.waitingOn[index] === 0 && this.statuses[index] === "pending") this.ready.push(index);
    }
    this.pump();
    this.maybeFinish();
  }

  /** Cancels the execution: running nodes get their cancellation signal, nothing new starts. */
  cancel(reason = "cancelled"): void {
    if (this.status !== "running" || this.stopping === "cancelled") return;
    this.stopping = "cancelled";
    if (!this.started) {
      // Cancelled before it started (a Ctrl-C while the runtimes were starting): start() records the start, runs
      // nothing and finishes cancelled, because a finish recorded before the start would leave the journal's last
      // word "started", and the execution an orphan that a server would adopt and run.
      this.cancelReason = reason;
      return;
    }
    for (const [index, timer] of this.retryTimers) {
      clearTimeout(timer);
      this.running--;
      this.statuses[index] = "cancelled";
      this.emitNode(index, { type: "node.cancelled", reason });
    }
    this.retryTimers.clear();
    for (const unit of this.units) unit.control?.cancel(reason);
    for (const map of this.maps.values()) map.cancel(reason);
    this.cancelReason = reason;
    this.streams?.stopAll(reason);
    this.maybeFinish();
  }

  private cancelReason = "cancelled";
  private started = false;

  // ---------------------------------------------------------------- InputSources

  outputsOf(index: number): Record<string, unknown> | undefined {
    return this.outputs[index];
  }

  idOf(index: number): string {
    return this.graph.nodes[index]!.id;
  }

  blueprintInput(name: string): unknown {
    return this.options.inputs[name];
  }

  // ---------------------------------------------------------------- the loop

  private pump(): void {
    const limit = this.options.maxConcurrency;
    while (this.stopping === undefined && this.readyHead < this.ready.length && this.running < limit) {
      this.consider(this.ready[this.readyHead++]!);
    }
    if (this.readyHead === this.ready.length && this.readyHead > 0) {
      this.ready.length = 0;
      this.readyHead = 0;
    }
  }

  /** A node whose predecessors all finished: skip it, or get it going. */
  private consider(index: number): void {
    // A reader of a stream that restarts waits again for its producer (it may still be in the ready queue).
    if (this.statuses[index] !== "pending" || this.waitingOn[index]! > 0) return;
    const node = this.graph.nodes[index]!;
    const decision = decideInputs(node, this);
    if (!decision.run) {
      this.skip(index, decision.reason);
      return;
    }
    const when = node.policy.when;
    if (when === undefined) {
      this.proceed(index, decision.inputs);
      return;
    }
    this.statuses[index] = "queued";
    this.running++;
    conditionHolds(when, decision.inputs).then(
      (holds) => {
        this.running--;
        if (this.stopping !== undefined) {
          this.statuses[index] = "pending";
        } else if (holds) {
          this.statuses[index] = "pending";
          this.proceed(index, decision.inputs);
        } else {
          this.skip(index, `its condition is false: ${when}`);
        }
        this.pump();
        this.maybeFinish();
      },
      (error: unknown) => {
        this.running--;
        this.statuses[index] = "pending";
        this.settleFailure(
          index,
          {
            message: `node "${node.id}": its condition "${when}" cannot be evaluated: ${(error as Error).message}`,
            type: "condition.invalid",
            retryable: false,
          },
          0,
        );
        this.pump();
        this.maybeFinish();
      },
    );
  }

  /** Runs the node, unless the cache has its result; waits for the journal before a node with side effects. */
  private proceed(index: number, inputs: Record<string, unknown>): void {
    const node = this.graph.nodes[index]!;
    const cache = this.options.cache;
    if (cache !== undefined && node.policy.cache) {
      const key = cacheKey(node.type, node.nodeType.version, node.config, inputs);
      const hit = cache.get(key);
      if (hit !== undefined) {
        this.completeFromCache(index, hit);
        return;
      }
      this.cacheKeys[index] = key;
    }
    const durability = this.options.durability;
    if (durability?.pending === true && node.nodeType.flags?.deterministic !== true) {
      // A node that may have side effects starts only once everything before it is durable, so that after a
      // crash no node that completed runs again.
      this.statuses[index] = "queued";
      this.running++;
      durability.flush().then(
        () => {
          this.running--;
          this.statuses[index] = "pending";
          if (this.stopping === undefined) this.launch(index, inputs);
          this.maybeFinish();
        },
        (error: unknown) => {
          this.running--;
          this.statuses[index] = "pending";
          this.fail(index, {
            message: `the journal could not be written: ${(error as Error).message}`,
            type: "journal.failed",
            retryable: false,
          });
          this.maybeFinish();
        },
      );
      return;
    }
    this.launch(index, inputs);
  }

  private launch(index: number, given: Record<string, unknown>): void {
    let inputs = given;
    try {
      if (this.streams !== undefined) inputs = this.streams.inputsFor(index, given);
    } catch (error) {
      // Collected Arrow batches that do not share one schema: the node fails before it runs.
      this.settleFailure(index, toFailureInfo(error), 0);
      return;
    }
    if (this.graph.nodes[index]!.policy.map !== undefined) this.startMap(index, inputs);
    else this.dispatch(index, inputs);
  }

  /** Sends a node, or the chain it heads, to its runtime as one invocation. */
  private dispatch(head: number, headInputs: Record<string, unknown>): void {
    const chain = this.plan.chains[head];
    const unit: Unit =
      chain?.every((i, n) => n === 0 || this.statuses[i] === "pending") === true ? chain! : [head];
    const steps = new Array<InvocationRequest["steps"][number]>(unit.length);
    for (let step = 0; step < unit.length; step++) {
      const index = unit[step]!;
      const node = this.graph.nodes[index]!;
      const inputs: Record<string, StepInput> = {};
      if (step === 0) {
        const checked = this.plan.checkedInputs[index];
        for (const port in headInputs) {
          inputs[port] = checked?.has(port)
            ? { value: headInputs[port], checked: true }
            : { value: headInputs[port] };
        }
      } else {
        for (const port in node.inputs) {
          const binding = node.inputs[port]!;
          if (binding.kind === "node") {
            const inUnit = unit.indexOf(binding.node);
            if (inUnit >= 0 && inUnit < step) inputs[port] = { step: inUnit, port: binding.port };
            else {
              const value = this.outputs[binding.node]?.[binding.port];
              if (value !== undefined) inputs[port] = { value };
            }
          } else if (binding.kind === "input") {
            const value = this.options.inputs[binding.name];
            if (value !== undefined) inputs[port] = { value };
          } else inputs[port] = { value: binding.value };
        }
      }
      this.statuses[index] = "queued";
      this.attempts[index]!++;
      const resume = this.streams?.resumeOf(index);
      steps[step] = {
        nodeId: node.id,
        nodeType: node.type,
        attempt: this.attempts[index]!,
        config: node.config,
        inputs,
        timeoutMs: node.policy.timeoutMs,
        ...(node.document.runsOn === undefined ? {} : { runsOn: node.document.runsOn }),
        ...(resume === undefined ? {} : { resume }),
      };
      if (this.options.hub.active) this.emitNode(index, { type: "node.queued" });
    }
    this.running++;
    this.options.trace?.dispatch(
      this.graph.nodes[head]!.runtime,
      this.graph.nodes,
      unit,
      steps,
      this.plan.runtimes[head]!.checksOutputs === true,
    );
    const sink = new UnitSink(this, unit);
    const control = this.plan.runtimes[head]!.execute(
      { invocationId: 0, executionId: this.executionId, steps },
      sink,
    );
    if (!sink.ended) {
      sink.control = control;
      this.units.add(sink);
    }
  }

  private startMap(index: number, inputs: Record<string, unknown>): void {
    const node = this.graph.nodes[index]!;
    const over = node.policy.map!.over;
    const items = toLive(inputs[over]);
    if (!Array.isArray(items)) {
      this.settleFailure(
        index,
        {
          message: `node "${node.id}" maps over input "${over}", which must be a list; found ${items === null ? "null" : typeof items}`,
          type: "map.not-a-list",
          retryable: false,
        },
        0,
      );
      this.pump();
      this.maybeFinish();
      return;
    }
    const { [over]: _mapped, ...shared } = inputs;
    this.statuses[index] = "queued";
    this.attempts[index] = 1;
    this.running++;
    this.options.trace?.mapStarted(node);
    if (this.options.hub.active) this.emitNode(index, { type: "node.queued" });
    const startedClock = performance.now();
    const run = new MapRun(node, this.plan.runtimes[index]!, this.executionId, items, shared, {
      started: () => this.onStarted(index),
      progress: (done, total) => this.onProgress(index, done / total, `${done} of ${total} items`),
      log: (level, message, fields) => this.onLog(index, level, message, fields),
      ...(this.options.trace === undefined
        ? {}
        : { traceItem: (item: number, step: StepRequest) => this.options.trace!.mapItem(node, item, step) }),
      done: (outcome: MapOutcome) => {
        this.maps.delete(index);
        const durationUs = Math.round((performance.now() - startedClock) * 1000);
        if (this.startTimes[index] === 0) this.startTimes[index] = Date.now();
        if (outcome.kind === "completed") {
          const outputs: Record<string, unknown> = { ...outcome.outputs };
          if (outcome.errors.length > 0 && node.policy.onError === "route")
            outputs[ERROR_PORT] = outcome.errors;
          this.onCompleted(index, outputs, durationUs, true);
        } else if (outcome.kind === "failed") {
          this.running--;
          this.settleFailure(index, outcome.failure, durationUs);
          this.pump();
          this.maybeFinish();
        } else {
          this.onCancelled(index, outcome.reason, [index]);
        }
      },
    });
    this.maps.set(index, run);
    run.start();
  }

  /**
   * Visits the node steps of this execution that were sent to a runtime and have not ended: `running` once the
   * runtime started them, else queued. The metrics' queued and in-flight gauges read them at each scrape, because
   * counting them in a hook per node cost the in-process hot path more than the rest of the metrics.
   */
  visitSteps(visit: (node: GraphNode, running: boolean) => void): void {
    for (const sink of this.units) for (const index of sink.unit) this.visitStep(index, visit);
    for (const index of this.maps.keys()) this.visitStep(index, visit);
  }

  private visitStep(index: number, visit: (node: GraphNode, running: boolean) => void): void {
    const status = this.statuses[index];
    if (status === "queued" || status === "running") visit(this.graph.nodes[index]!, status === "running");
  }

  // ---------------------------------------------------------------- events from runtimes (via UnitSink)

  onStarted(index: number): void {
    this.statuses[index] = "running";
    this.startTimes[index] = Date.now();
    this.armHeartbeat(index);
    const trace = this.options.trace;
    trace?.started(index);
    if (this.options.hub.active) {
      const traceparent = trace?.attemptTraceparent(index);
      this.emitNode(index, {
        type: "node.started",
        attempt: this.attempts[index]!,
        runtime: this.graph.nodes[index]!.runtime,
        inputs: this.inputsOf(index),
        ...(traceparent === undefined ? {} : { traceparent }),
      });
    }
  }

  onLog(
    index: number,
    level: import("@conductor/sdk/protocol").LogLevel,
    message: string,
    fields: Record<string, unknown> | undefined,
  ): void {
    this.armHeartbeat(index);
    if (this.options.hub.active)
      this.emitNode(index, { type: "node.log", level, message, ...(fields === undefined ? {} : { fields }) });
  }

  onProgress(index: number, fraction: number, message: string): void {
    this.armHeartbeat(index);
    if (this.options.hub.active) this.emitNode(index, { type: "node.progress", fraction, message });
  }

  onChunk(index: number, port: string, value: unknown): void {
    this.armHeartbeat(index);
    if (this.options.hub.active) this.emitNode(index, { type: "node.chunk", port, value });
  }

  onHeartbeat(index: number): void {
    this.armHeartbeat(index);
    if (this.options.hub.active) this.emitNode(index, { type: "node.heartbeat" });
  }

  onCompleted(index: number, outputs: Record<string, unknown>, durationUs: number, unitEnded: boolean): void {
    this.disarmHeartbeat(index);
    if (this.streams !== undefined) {
      // A node that reads a stream while it produces one (stream in, stream out) keeps reading until its own
      // streams settle: its readers are detached then (onStreamSettled), not when its streams open.
      if (this.plan.streams[index] !== undefined && this.streams.open(index, outputs)) {
        // The node streams: it counts as running (and holds its slot) until its streams end.
        this.outputs[index] = outputs;
        this.running++;
        if (unitEnded) this.running--;
        this.pump();
        return;
      }
      this.streams.consumerEnded(index);
    }
    this.statuses[index] = "completed";
    this.outputs[index] = outputs;
    this.durations[index] = durationUs / 1000;
    this.completionOrder.push(index);
    this.options.trace?.completed(index, durationUs);
    const key = this.cacheKeys[index];
    if (key !== undefined) this.options.cache?.put(key, this.graph.nodes[index]!.type, outputs);
    if (this.options.hub.active)
      this.emitNode(index, { type: "node.completed", outputs, durationMs: durationUs / 1000 });
    this.release(index);
    if (unitEnded) this.running--;
    this.pump();
    this.maybeFinish();
  }

  onFailed(index: number, failure: FailureInfo, durationUs: number, unit: Unit): void {
    this.disarmHeartbeat(index);
    this.streams?.consumerEnded(index);
    if (this.restarting.delete(index) && this.stopping === undefined) {
      this.restartReader(index, failure, durationUs);
      return;
    }
    this.releaseRest(unit, index);
    if (this.startTimes[index] === 0) this.startTimes[index] = Date.now();
    const node = this.graph.nodes[index]!;
    // A node that read a stream cannot read it again: a retry would need its producer to stream again.
    const delay =
      this.stopping === undefined && this.plan.streamInputs[index] === undefined
        ? retryDelay(
            node.policy.retry,
            this.attempts[index]!,
            failure,
            node.nodeType.flags?.idempotent === true,
          )
        : undefined;
    if (delay !== undefined) {
      this.scheduleRetry(index, failure, durationUs, delay);
      return;
    }
    this.options.trace?.failed(index, failure, delay, durationUs);
    this.running--;
    this.settleFailure(index, failure, durationUs);
    this.pump();
    this.maybeFinish();
  }

  onCancelled(index: number, reason: string, unit: Unit): void {
    this.disarmHeartbeat(index);
    this.streams?.consumerEnded(index);
    if (this.restarting.delete(index) && this.stopping === undefined) {
      this.restartReader(index, { message: reason, type: "stream.restart", retryable: true }, 0);
      return;
    }
    const hostFailure = this.hostFailures[index];
    if (hostFailure !== undefined && this.stopping !== "cancelled") {
      // The host cancelled it for a missed heartbeat: that is a failure, with the retry policy to apply.
      this.hostFailures[index] = undefined;
      this.onFailed(index, hostFailure, Math.round((Date.now() - this.startTimes[index]!) * 1000), unit);
      return;
    }
    this.releaseRest(unit, index);
    this.statuses[index] = "cancelled";
    this.options.trace?.cancelled(index, reason);
    if (this.options.hub.active) this.emitNode(index, { type: "node.cancelled", reason });
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

  forget(unit: UnitSink): void {
    this.units.delete(unit);
  }

  // ---------------------------------------------------------------- streams

  /** A producer started streaming: the nodes reading its streams item by item may start now. */
  private onStreamOpened(producer: number): void {
    this.statuses[producer] = "running";
    this.releasedEarly.add(producer);
    for (const successor of this.plan.streams[producer]!.early) {
      if (--this.waitingOn[successor]! === 0 && this.statuses[successor] === "pending")
        this.ready.push(successor);
    }
  }

  /** Every stream of a producer ended, failed or was stopped: the producer completes, fails or is cancelled. */
  private onStreamSettled(producer: number, outcome: StreamOutcome): void {
    this.streams?.consumerEnded(producer);
    if (outcome.kind === "stopped" && this.stopping === undefined && this.readersRunning(producer)) {
      // Its readers stopped reading; whether they failed (the producer is then cancelled) or finished early (it
      // completed) is known when they end: see maybeFinish.
      this.stoppedStreams.set(producer, outcome);
      return;
    }
    const durationUs = Math.round((Date.now() - this.startTimes[producer]!) * 1000);
    if (outcome.kind === "failed" && this.retryStream(producer, outcome.failure, durationUs)) return;
    this.running--;
    if (outcome.kind === "failed") {
      this.options.trace?.failed(producer, outcome.failure, undefined, durationUs);
      this.settleFailure(producer, outcome.failure, durationUs);
    } else if (outcome.kind === "stopped" && this.stopping !== undefined) {
      this.statuses[producer] = "cancelled";
      this.options.trace?.cancelled(producer, outcome.reason);
      if (this.options.hub.active)
        this.emitNode(producer, { type: "node.cancelled", reason: outcome.reason });
    } else {
      // Ended, or stopped because every reader had what it needed while the execution goes on.
      const outputs = this.outputs[producer]!;
      this.statuses[producer] = "completed";
      this.durations[producer] = durationUs / 1000;
      this.completionOrder.push(producer);
      this.options.trace?.completed(producer, durationUs);
      if (this.options.hub.active) {
        this.emitNode(producer, {
          type: "node.completed",
          outputs: ExecutionStreams.describe(outputs),
          durationMs: durationUs / 1000,
        });
      }
      this.release(producer);
    }
    this.pump();
    this.maybeFinish();
  }

  /**
   * A producer's stream failed mid-way with a failure its retry policy retries: the streaming segment restarts.
   * Its readers stop (those running are cancelled, and run again from the first item when the producer streams
   * again); the producer is dispatched again after the policy's delay. Gives false (no retry) when a reader has
   * already ended, since it cannot read again what it read.
   */
  private retryStream(producer: number, failure: FailureInfo, durationUs: number): boolean {
    const node = this.graph.nodes[producer]!;
    const delay = this.streamRetryDelay(producer, failure);
    if (delay === undefined) return false;
    const readers = [...this.plan.streams[producer]!.early];
    if (readers.some((reader) => !["pending", "queued", "running"].includes(this.statuses[reader]!)))
      return false;
    for (const reader of readers) {
      this.waitingOn[reader]!++;
      if (this.statuses[reader] === "pending") continue;
      this.restarting.add(reader);
      for (const unit of this.units)
        if (unit.runs(reader)) unit.control?.cancel(`stream "${node.id}" restarts`);
    }
    this.scheduleRetry(producer, failure, durationUs, delay);
    return true;
  }

  /**
   * A producer's stream failed after a checkpoint on each of its streams (docs/streaming.md, "Checkpoints"): when
   * its retry policy retries the failure, it is dispatched again after the delay with where to resume, while its
   * readers go on waiting for the next item. Gives false otherwise (the streams then fail as usual).
   */
  private retryFromCheckpoint(producer: number, failure: FailureInfo): boolean {
    const delay = this.streamRetryDelay(producer, failure);
    if (delay === undefined) return false;
    this.scheduleRetry(
      producer,
      failure,
      Math.round((Date.now() - this.startTimes[producer]!) * 1000),
      delay,
    );
    return true;
  }

  /**
   * The delay before a stream producer's retry, or undefined when it is not retried: the execution is stopping,
   * or its retry policy does not retry this failure (after this many attempts, for a node of this idempotency).
   */
  private streamRetryDelay(producer: number, failure: FailureInfo): number | undefined {
    if (this.stopping !== undefined) return undefined;
    const node = this.graph.nodes[producer]!;
    return retryDelay(
      node.policy.retry,
      this.attempts[producer]!,
      failure,
      node.nodeType.flags?.idempotent === true,
    );
  }

  /**
   * Records a failure its policy retries and dispatches the node again after `delay`. The node's slot stays
   * reserved while the retry waits.
   */
  private scheduleRetry(index: number, failure: FailureInfo, durationUs: number, delay: number): void {
    this.options.trace?.failed(index, failure, delay, durationUs);
    this.statuses[index] = "queued";
    if (this.options.hub.active) {
      this.emitNode(index, {
        type: "node.failed",
        failure,
        durationMs: durationUs / 1000,
        attempt: this.attempts[index]!,
        willRetry: true,
        retryInMs: delay,
      });
    }
    const timer = setTimeout(() => {
      this.retryTimers.delete(index);
      this.running--;
      this.statuses[index] = "pending";
      const decision = decideInputs(this.graph.nodes[index]!, this);
      if (this.stopping === undefined && decision.run) this.dispatch(index, decision.inputs);
      this.maybeFinish();
    }, delay);
    this.retryTimers.set(index, timer);
  }

  /** A reader stopped for its producer's restart: it waits for the producer to stream again. */
  private restartReader(index: number, failure: FailureInfo, durationUs: number): void {
    this.statuses[index] = "pending";
    if (this.options.hub.active) {
      this.emitNode(index, {
        type: "node.failed",
        failure,
        durationMs: durationUs / 1000,
        attempt: this.attempts[index]!,
        willRetry: true,
        retryInMs: 0,
      });
    }
    this.running--;
    this.pump();
    this.maybeFinish();
  }

  /** Whether a node reading the producer's streams item by item has not ended yet. */
  private readersRunning(producer: number): boolean {
    for (const reader of this.plan.streams[producer]!.early) {
      const status = this.statuses[reader];
      if (status === "queued" || status === "running") return true;
    }
    return false;
  }

  private onStreamProgress(producer: number, port: string, items: number, state: StreamState): void {
    if (this.options.hub.active) this.emitNode(producer, { type: "node.stream", port, items, state });
  }

  // ---------------------------------------------------------------- state changes

  /** A node failed for good: its error policy decides what happens next. */
  private settleFailure(index: number, failure: FailureInfo, durationUs: number): void {
    const node = this.graph.nodes[index]!;
    // A producer retried from its checkpoints that failed before it streamed again: its readers get the failure.
    this.streams?.producerFailed(index, failure);
    this.statuses[index] = "failed";
    this.failures[index] = failure;
    this.durations[index] = durationUs / 1000;
    const handling = this.stopping === undefined ? node.policy.onError : "fail";
    if (this.options.hub.active) {
      this.emitNode(index, {
        type: "node.failed",
        failure,
        durationMs: durationUs / 1000,
        attempt: this.attempts[index]!,
        handling,
      });
    }
    if (handling === "fail") {
      this.firstFailure ??= { nodeId: node.id, ...failure };
      // Nothing new starts; nodes already running finish and their results are kept.
      this.stopping ??= "failed";
      return;
    }
    this.handledFailures.push({ nodeId: node.id, ...failure });
    if (handling === "route") this.outputs[index] = { [ERROR_PORT]: failureAsJson(failure) };
    this.release(index);
  }

  private fail(index: number, failure: FailureInfo): void {
    this.statuses[index] = "failed";
    this.failures[index] = failure;
    this.firstFailure ??= { nodeId: this.graph.nodes[index]!.id, ...failure };
    this.stopping ??= "failed";
    if (this.options.hub.active) {
      this.emitNode(index, {
        type: "node.failed",
        failure,
        durationMs: 0,
        attempt: this.attempts[index]!,
        handling: "fail",
      });
    }
  }

  private skip(index: number, reason: string): void {
    this.statuses[index] = "skipped";
    if (this.options.hub.active) this.emitNode(index, { type: "node.skipped", reason });
    this.release(index);
  }

  private completeFromCache(index: number, outputs: Record<string, unknown>): void {
    this.statuses[index] = "cached";
    this.outputs[index] = outputs;
    this.startTimes[index] = Date.now();
    this.options.trace?.cached(this.graph.nodes[index]!);
    this.completionOrder.push(index);
    if (this.options.hub.active)
      this.emitNode(index, { type: "node.completed", outputs, durationMs: 0, cached: true });
    this.release(index);
  }

  /** A node finished in a way that lets the nodes reading from it go on. */
  private release(index: number): void {
    const successors = this.graph.nodes[index]!.successors;
    const early = this.releasedEarly.has(index) ? this.plan.streams[index]!.early : undefined;
    for (let i = 0; i < successors.length; i++) {
      const successor = successors[i]!;
      if (early?.has(successor) === true) continue;
      if (--this.waitingOn[successor]! === 0 && this.statuses[successor] === "pending")
        this.ready.push(successor);
    }
  }

  /** Steps of a unit after the one that ended it never ran: they go back to pending. */
  private releaseRest(unit: Unit, index: number): void {
    const position = unit.indexOf(index);
    for (let i = position + 1; i < unit.length; i++) {
      this.options.trace?.abandoned(unit[i]!);
      this.statuses[unit[i]!] = "pending";
      this.attempts[unit[i]!]!--;
    }
  }

  private armHeartbeat(index: number): void {
    // A map node's elements each have their own heartbeat deadline, which its MapRun watches.
    if (this.graph.nodes[index]!.policy.map !== undefined) return;
    this.heartbeats.arm(index, this.graph.nodes[index]!.policy.heartbeatTimeoutMs, this.onHeartbeatMissed);
  }

  private disarmHeartbeat(index: number): void {
    this.heartbeats.disarm(index);
  }

  /** A node went silent for longer than its heartbeat timeout: stop it; its runtime's answer becomes a failure. */
  private readonly onHeartbeatMissed = (index: number): void => {
    const node = this.graph.nodes[index]!;
    this.hostFailures[index] = {
      message: `node "${node.id}" (${node.type}) sent no heartbeat, progress or log for ${node.policy.heartbeatTimeoutMs} ms`,
      type: "heartbeat.timeout",
      retryable: true,
    };
    for (const unit of this.units) if (unit.runs(index)) unit.control?.cancel("heartbeat timeout");
  };

  // ---------------------------------------------------------------- the end

  private maybeFinish(): void {
    for (const [producer, outcome] of this.stoppedStreams) {
      if (this.stopping !== undefined || !this.readersRunning(producer)) {
        this.stoppedStreams.delete(producer);
        this.onStreamSettled(producer, outcome);
        return;
      }
    }
    if (this.status !== "running" || this.running > 0 || this.compensating) return;
    if (this.stopping === undefined && this.readyHead < this.ready.length) return;
    if (
      this.stopping === "failed" &&
      this.completionOrder.some((index) => this.graph.nodes[index]!.policy.compensate !== undefined)
    ) {
      this.compensating = true;
      void this.compensate().then(() => {
        this.compensating = false;
        this.finish();
      });
      return;
    }
    this.finish();
  }

  /** Runs the compensations of completed nodes, in reverse completion order, one at a time. */
  private async compensate(): Promise<void> {
    for (const index of [...this.completionOrder].reverse()) {
      const node = this.graph.nodes[index]!;
      const compensation = node.policy.compensate;
      if (compensation === undefined) continue;
      const record = await this.runCompensation(compensation, node);
      this.compensations.push(record);
    }
  }

  private runCompensation(index: number, compensated: GraphNode): Promise<CompensationRecord> {
    const node = this.graph.nodes[index]!;
    const decision = decideInputs(node, this);
    if (!decision.run) {
      const failure = {
        message: `compensation cannot run: ${decision.reason}`,
        type: "compensation.inputs",
        retryable: false,
      };
      this.statuses[index] = "failed";
      this.failures[index] = failure;
      return Promise.resolve({ nodeId: node.id, compensates: compensated.id, status: "failed", failure });
    }
    return new Promise((resolve) => {
      const inputs: Record<string, StepInput> = {};
      for (const port in decision.inputs) inputs[port] = { value: decision.inputs[port] };
      this.attempts[index]!++;
      const sink = new UnitSink(this, [index]);
      sink.onEnd = () => {
        const failure = this.failures[index];
        resolve({
          nodeId: node.id,
          compensates: compensated.id,
          status: this.statuses[index] === "completed" ? "completed" : "failed",
          ...(failure === undefined ? {} : { failure }),
        });
      };
      this.running++;
      const steps: StepRequest[] = [
        {
          nodeId: node.id,
          nodeType: node.type,
          attempt: this.attempts[index]!,
          config: node.config,
          inputs,
          timeoutMs: node.policy.timeoutMs,
          ...(node.document.runsOn === undefined ? {} : { runsOn: node.document.runsOn }),
        },
      ];
      this.options.trace?.dispatch(
        node.runtime,
        this.graph.nodes,
        [index],
        steps,
        this.plan.runtimes[index]!.checksOutputs === true,
      );
      this.plan.runtimes[index]!.execute({ invocationId: 0, executionId: this.executionId, steps }, sink);
    });
  }

  private finish(): void {
    const status: ExecutionStatus =
      this.stopping === "cancelled" ? "cancelled" : this.firstFailure !== undefined ? "failed" : "completed";
    this.status = status;
    this.heartbeats.clear();
    // A large output a runtime wrote as a blob file stays a reference to that file: the journal links the file and
    // the API answers a handle to it, so the host never holds the value for them. The rest is decoded.
    const outputs: Record<string, unknown> = {};
    for (const [name, binding] of Object.entries(this.graph.outputs)) {
      const value =
        binding.kind === "node"
          ? this.outputs[binding.node]?.[binding.port]
          : this.options.inputs[binding.name];
      if (value !== undefined) outputs[name] = isBlobValue(value) ? value : toLive(value);
    }
    const durationMs = performance.now() - this.startClock;
    this.options.trace?.finished(
      status,
      this.firstFailure ??
        (status === "cancelled"
          ? { message: this.cancelReason, type: "cancelled", retryable: false }
          : undefined),
      durationMs,
    );
    if (this.options.hub.active) {
      this.emit({
        type: "execution.finished",
        executionId: this.executionId,
        seq: ++this.seq,
        at: Date.now(),
        status,
        outputs,
        ...(this.firstFailure === undefined ? {} : { failure: this.firstFailure }),
        ...(this.compensations.length === 0 ? {} : { compensations: this.compensations }),
        durationMs,
      });
    }
    const execution = this;
    const result: ExecutionResult = {
      executionId: this.executionId,
      blueprintId: this.graph.id,
      status,
      outputs: decodedOnRead(outputs, this.executionId),
      encodedOutputs: outputs,
      handledFailures: this.handledFailures,
      compensations: this.compensations,
      startedAt: this.startedAt,
      durationMs,
      // Built on demand: most callers only read the outputs.
      get nodes() {
        return execution.nodeRecords();
      },
    };
    if (this.firstFailure !== undefined) result.failure = this.firstFailure;
    if (status === "cancelled" && this.firstFailure === undefined) {
      result.failure = { nodeId: "", message: this.cancelReason, type: "cancelled", retryable: false };
    }
    this.resolveResult(result);
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
      if (outputs !== undefined)
        record.outputs = this.streams === undefined ? outputs : ExecutionStreams.describe(outputs);
      const failure = this.failures[index];
      if (failure !== undefined) record.failure = failure;
      records[node.id] = record;
    }
    return records;
  }

  /** The values a node's inputs are bound to now (for events; the runtime gets them through the invocation). */
  private inputsOf(index: number): Record<string, unknown> {
    const decision = decideInputs(this.graph.nodes[index]!, this);
    if (!decision.run) return {};
    return this.streams === undefined ? decision.inputs : ExecutionStreams.describe(decision.inputs);
  }

  private emit(event: ExecutionEvent): void {
    this.options.hub.emit(event);
  }

  /** Emits a node event, filling in the common fields. */
  private emitNode(
    index: number,
    event: DistributiveOmit<
      Extract<ExecutionEvent, { nodeId: string }>,
      "executionId" | "seq" | "at" | "nodeId"
    >,
  ): void {
    this.options.hub.emit({
      ...event,
      executionId: this.executionId,
      seq: ++this.seq,
      at: Date.now(),
      nodeId: this.graph.nodes[index]!.id,
    } as ExecutionEvent);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Whether a value is a reference to a blob file a runtime wrote (a value over the ABI's inline limit). */
function isBlobValue(value: unknown): value is EncodedValue {
  return value instanceof EncodedValue && value.wire.kind.case === "blob";
}

/**
 * The outputs with each blob reference decoded when its property is first read (then kept, like any other value),
 * so that library users get decoded values while an API that only forwards the outputs never decodes them.
 */
function decodedOnRead(outputs: Record<string, unknown>, executionId: string): Record<string, unknown> {
  const decoded: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(outputs)) {
    if (!isBlobValue(value)) {
      decoded[name] = value;
      continue;
    }
    const settle = (live: unknown): void => {
      Object.defineProperty(decoded, name, {
        value: live,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    };
    Object.defineProperty(decoded, name, {
      enumerable: true,
      configurable: true,
      get() {
        let live: unknown;
        try {
          live = toLive(value);
        } catch (error) {
          throw new Error(
            `output "${name}" of execution ${executionId} cannot be decoded: ${(error as Error).message}; a large output of a runtime is read from the runtime's blob file when first read, and that file is removed when the conductor closes: read result.outputs before close()`,
            { cause: error },
          );
        }
        settle(live);
        return live;
      },
      set: settle,
    });
  }
  return decoded;
}
