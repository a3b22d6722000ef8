import type { InvocationControl } from "@conductor/sdk";
import {
  type FailureInfo,
  type InvocationSink,
  type LogLevel,
  type StepRequest,
  toLive,
} from "@conductor/sdk/protocol";
import type { GraphNode } from "../blueprint/blueprint-graph.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import { HeartbeatWatch } from "./heartbeat-watch.js";
import { retryDelay } from "./retry-policy.js";

/** How a map node ended. */
export type MapOutcome =
  | {
      kind: "completed";
      outputs: Record<string, unknown[]>;
      errors: { index: number; failure: FailureInfo }[];
    }
  | { kind: "failed"; failure: FailureInfo }
  | { kind: "cancelled"; reason: string };

/** What a map run reports to its execution. */
export interface MapCallbacks {
  started(): void;
  progress(done: number, total: number): void;
  log(level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void;
  done(outcome: MapOutcome): void;
  /**
   * With tracing on: an element's attempt is about to be sent; gives its step its own span context and returns
   * what ends that span (docs/telemetry.md).
   */
  traceItem?(index: number, step: StepRequest): ItemSpanEnd;
}

/** Ends the span of one element's attempt. */
export type ItemSpanEnd = (status: "completed" | "failed" | "cancelled", failure?: FailureInfo) => void;

/**
 * Runs a node once per element of its mapped input, with at most `concurrency` elements in flight; each element
 * has its own attempts under the node's retry policy. Outputs are lists in input order. When an element fails
 * for good: with `onError: fail` the other elements are cancelled and the node fails; otherwise the element's
 * outputs are null and its failure is listed. A node's heartbeat timeout applies to each element: an element
 * that shows no sign of life (heartbeat, progress, log, chunk) for that long is cancelled and fails as
 * `heartbeat.timeout`, which the retry policy may try again, while the other elements go on.
 */
export class MapRun {
  private readonly results: (Record<string, unknown> | undefined)[];
  private readonly attempts: number[];
  private readonly errors: { index: number; failure: FailureInfo }[] = [];
  private readonly controls = new Map<number, InvocationControl>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly heartbeats = new HeartbeatWatch();
  /** Failures the host decided for running elements (a missed heartbeat), reported when their runtime stops them. */
  private readonly hostFailures = new Map<number, FailureInfo>();
  /** The span of each element's attempt in flight, with tracing on. */
  private readonly itemSpans = new Map<number, ItemSpanEnd>();
  private next = 0;
  private done = 0;
  private ended = false;
  private startedReported = false;

  constructor(
    private readonly node: GraphNode,
    private readonly runtime: RuntimeConnection,
    private readonly executionId: string,
    private readonly items: readonly unknown[],
    private readonly inputs: Record<string, unknown>,
    private readonly callbacks: MapCallbacks,
  ) {
    this.results = new Array(items.length).fill(undefined);
    this.attempts = new Array<number>(items.length).fill(0);
  }

  start(): void {
    if (this.items.length === 0) {
      this.finish({ kind: "completed", outputs: this.collect(), errors: [] });
      return;
    }
    this.fill();
  }

  cancel(reason: string): void {
    if (this.ended) return;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.heartbeats.clear();
    for (const control of this.controls.values()) control.cancel(reason);
    if (this.controls.size === 0) this.finish({ kind: "cancelled", reason });
    else this.cancelReason = reason;
  }

  private cancelReason: string | undefined;

  private fill(): void {
    const concurrency = this.node.policy.map!.concurrency;
    while (
      !this.ended &&
      this.cancelReason === undefined &&
      this.controls.size + this.timers.size < concurrency &&
      this.next < this.items.length
    ) {
      this.launch(this.next++);
    }
  }

  private launch(index: number): void {
    const over = this.node.policy.map!.over;
    const attempt = ++this.attempts[index]!;
    const inputs: Record<string, { value: unknown }> = {};
    for (const port in this.inputs) inputs[port] = { value: this.inputs[port] };
    inputs[over] = { value: this.items[index] };
    const sink = this.sink(index);
    const step: StepRequest = {
      nodeId: `${this.node.id}[${index}]`,
      nodeType: this.node.type,
      attempt,
      config: this.node.config,
      inputs,
      timeoutMs: this.node.policy.timeoutMs,
      ...(this.node.document.runsOn === undefined ? {} : { runsOn: this.node.document.runsOn }),
    };
    const traceItem = this.callbacks.traceItem;
    if (traceItem !== undefined) this.itemSpans.set(index, traceItem(index, step));
    const control = this.runtime.execute(
      { invocationId: 0, executionId: this.executionId, steps: [step] },
      sink,
    );
    if (!this.settled.has(index)) this.controls.set(index, control);
    this.settled.delete(index);
  }

  /** Items whose invocation ended synchronously inside execute(). */
  private readonly settled = new Set<number>();

  private sink(index: number): InvocationSink {
    const end = () => {
      this.heartbeats.disarm(index);
      if (!this.controls.delete(index)) this.settled.add(index);
    };
    const alive = () => this.armHeartbeat(index);
    return {
      started: () => {
        alive();
        if (!this.startedReported) {
          this.startedReported = true;
          this.callbacks.started();
        }
      },
      log: (_step, level, message, fields) => {
        alive();
        this.callbacks.log(level, `item ${index}: ${message}`, fields);
      },
      progress: alive,
      chunk: alive,
      heartbeat: alive,
      completed: (_step, outputs) => {
        end();
        this.endItemSpan(index, "completed");
        this.hostFailures.delete(index);
        this.results[index] = outputs;
        this.itemDone();
      },
      failed: (_step, failure) => {
        end();
        // A node that fails once cancelled for a missed heartbeat failed for the missed heartbeat.
        const hostFailure = this.hostFailures.get(index);
        this.hostFailures.delete(index);
        this.endItemSpan(index, "failed", hostFailure ?? failure);
        this.itemFailed(index, hostFailure ?? failure);
      },
      cancelled: (_step, reason) => {
        end();
        this.endItemSpan(index, "cancelled");
        const hostFailure = this.hostFailures.get(index);
        this.hostFailures.delete(index);
        if (this.cancelReason !== undefined) this.itemDone();
        // Cancelled by the host for a missed heartbeat: a failure, with the retry policy to apply.
        else if (hostFailure !== undefined) this.itemFailed(index, hostFailure);
        else this.itemFailed(index, { message: reason, type: "cancelled", retryable: false });
      },
      rejected: (failure) => {
        end();
        this.endItemSpan(index, "failed", failure);
        this.itemFailed(index, failure);
      },
    };
  }

  private endItemSpan(
    index: number,
    status: "completed" | "failed" | "cancelled",
    failure?: FailureInfo,
  ): void {
    const endSpan = this.itemSpans.get(index);
    if (endSpan === undefined) return;
    this.itemSpans.delete(index);
    endSpan(status, failure);
  }

  private armHeartbeat(index: number): void {
    this.heartbeats.arm(index, this.node.policy.heartbeatTimeoutMs, this.onHeartbeatMissed);
  }

  /** An element went silent for longer than the node's heartbeat timeout: stop it; its end becomes a failure. */
  private readonly onHeartbeatMissed = (index: number): void => {
    const control = this.controls.get(index);
    if (control === undefined || this.ended) return;
    this.hostFailures.set(index, {
      message: `item ${index} of node "${this.node.id}" (${this.node.type}) sent no heartbeat, progress or log for ${this.node.policy.heartbeatTimeoutMs} ms`,
      type: "heartbeat.timeout",
      retryable: true,
    });
    control.cancel("heartbeat timeout");
  };

  private itemFailed(index: number, failure: FailureInfo): void {
    const delay =
      this.cancelReason === undefined
        ? retryDelay(
            this.node.policy.retry,
            this.attempts[index]!,
            failure,
            this.node.nodeType.flags?.idempotent === true,
          )
        : undefined;
    if (delay !== undefined) {
      this.callbacks.log(
        "warn",
        `item ${index} failed (attempt ${this.attempts[index]}), retrying in ${delay} ms: ${failure.message}`,
        undefined,
      );
      this.timers.set(
        index,
        setTimeout(() => {
          this.timers.delete(index);
          if (this.cancelReason === undefined && !this.ended) this.launch(index);
        }, delay),
      );
      return;
    }
    if (this.cancelReason === undefined && this.node.policy.onError === "fail") {
      const message = `item ${index} of ${this.items.length} failed: ${failure.message}`;
      this.cancel(`another item failed (${message})`);
      this.pendingFailure ??= { ...failure, message };
      this.itemDone();
      return;
    }
    this.errors.push({ index, failure });
    this.itemDone();
  }

  private pendingFailure: FailureInfo | undefined;

  private itemDone(): void {
    this.done++;
    if (this.cancelReason === undefined) this.callbacks.progress(this.done, this.items.length);
    if (this.controls.size > 0 || this.timers.size > 0) {
      this.fill();
    } else if (this.pendingFailure !== undefined) {
      this.finish({ kind: "failed", failure: this.pendingFailure });
    } else if (this.cancelReason !== undefined) {
      this.finish({ kind: "cancelled", reason: this.cancelReason });
    } else if (this.next < this.items.length) {
      this.fill();
    } else {
      this.finish({
        kind: "completed",
        outputs: this.collect(),
        errors: this.errors.sort((a, b) => a.index - b.index),
      });
    }
  }

  private collect(): Record<string, unknown[]> {
    const outputs: Record<string, unknown[]> = {};
    for (const port of this.node.nodeType.outputs) {
      // The list is assembled in the host, so its elements are decoded values.
      outputs[port.name] = this.results.map((result) => toLive(result?.[port.name] ?? null));
    }
    return outputs;
  }

  private finish(outcome: MapOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.heartbeats.clear();
    this.callbacks.done(outcome);
  }
}
