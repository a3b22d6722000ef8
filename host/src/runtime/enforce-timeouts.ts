import type { InvocationControl } from "@conductor/sdk";
import type {
  FailureInfo,
  InvocationRequest,
  InvocationSink,
  LogLevel,
  StepRequest,
} from "@conductor/sdk/protocol";
import type { RuntimeConnection } from "./runtime-connection.js";

/** Options of {@link enforceTimeouts}. */
export interface TimeoutEnforcementOptions {
  /** How long a step cancelled at its timeout may take to stop (the runtime's cancel grace). Default 2000 ms. */
  graceMs?: number;
  /**
   * Whether the connection itself ends a cancelled step that does not stop within the grace, by restarting its
   * runtime (child runtimes). When it cannot (the in-process and sub-blueprint runtimes), the host ends the step
   * itself after the grace, as a failure that is not retried: the node may still run, and a retry must never run
   * beside it.
   */
  restartsUnresponsive: boolean;
  /** The clock's timers, for tests. Default the global ones. */
  timers?: { set: (callback: () => void, ms: number) => unknown; clear: (handle: unknown) => void };
}

/**
 * How much longer than the grace the host waits before it gives up on a cancelled step itself (the same margin
 * the runtime client gives a child runtime; see runtime-client.ts).
 */
const GRACE_MARGIN = 0.5;

/**
 * The longest timer Node.js keeps (a longer one fires at once). Blueprints cannot ask for more (MAX_DURATION_MS of
 * the blueprint format); a node type's default timeout could, and is cut to this.
 */
const LONGEST_TIMER_MS = 2_147_483_647;

/**
 * Makes the host enforce every step's timeout (`timeoutMs` of its node, else its node type's default), whether or
 * not the runtime does: when a step has run that long since its `started` event without ending, the host cancels
 * it. Whatever ends it then is reported as the step's `timeout` failure (retryable): the runtime's own timeout
 * failure, its answer to the cancel, or the runtime client giving up after the grace (which restarts a child
 * runtime first, so that the retry never reaches the process where the attempt may still run).
 *
 * Use it around every runtime connection the scheduler dispatches to; the dispatch loop then needs no timeout
 * logic, and chains, map items and compensations are covered alike.
 */
export function enforceTimeouts(
  connection: RuntimeConnection,
  options: TimeoutEnforcementOptions,
): RuntimeConnection {
  const settings: Required<Omit<TimeoutEnforcementOptions, "timers">> & {
    timers: NonNullable<TimeoutEnforcementOptions["timers"]>;
  } = {
    graceMs: options.graceMs ?? 2_000,
    restartsUnresponsive: options.restartsUnresponsive,
    timers: options.timers ?? {
      set: (callback, ms) => {
        const timer = setTimeout(callback, ms);
        timer.unref();
        return timer;
      },
      clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
    },
  };
  const timeoutOf = (step: StepRequest): number =>
    Math.min(
      LONGEST_TIMER_MS,
      step.timeoutMs > 0 ? step.timeoutMs : (connection.findNodeType(step.nodeType)?.defaultTimeoutMs ?? 0),
    );
  return {
    get name() {
      return connection.name;
    },
    get description() {
      return connection.description;
    },
    get nodeTypes() {
      return connection.nodeTypes;
    },
    get supportsSteps() {
      return connection.supportsSteps;
    },
    get checksOutputs() {
      return connection.checksOutputs === true;
    },
    get takesLiveValues() {
      return connection.takesLiveValues === true;
    },
    findNodeType: (type) => connection.findNodeType(type),
    validateConfig: (nodeType, config) => connection.validateConfig(nodeType, config),
    ...(connection.health === undefined ? {} : { health: () => connection.health!() }),
    close: () => connection.close(),
    execute(request, sink) {
      // The hot path: an invocation without a timeout goes straight through, having allocated nothing.
      let timed = false;
      for (const step of request.steps) {
        if (timeoutOf(step) > 0) {
          timed = true;
          break;
        }
      }
      if (!timed) return connection.execute(request, sink);
      const timeouts = request.steps.map(timeoutOf);
      const watched = new WatchedInvocation(request, timeouts, sink, connection.name, settings);
      watched.inner = connection.execute(request, watched);
      return watched;
    },
  };
}

/** One invocation with a timeout: a sink in front of the scheduler's, and the control the scheduler holds. */
class WatchedInvocation implements InvocationSink, InvocationControl {
  inner: InvocationControl | undefined;
  private step = -1;
  private startedAt = 0;
  private timer: unknown;
  private fallback: unknown;
  /** The step cancelled at its timeout, and the timeout's message. */
  private timedOut: { step: number; message: string } | undefined;
  private cancelledByCaller = false;
  private ended = false;

  constructor(
    private readonly request: InvocationRequest,
    private readonly timeouts: readonly number[],
    private readonly sink: InvocationSink,
    private readonly runtime: string,
    private readonly settings: Required<TimeoutEnforcementOptions>,
  ) {}

  cancel(reason: string): void {
    this.cancelledByCaller = true;
    this.inner?.cancel(reason);
  }

  started(step: number): void {
    if (this.ended) return;
    this.disarm();
    this.step = step;
    this.startedAt = performance.now();
    const timeoutMs = this.timeouts[step] ?? 0;
    if (timeoutMs > 0) this.timer = this.settings.timers.set(() => this.expire(step, timeoutMs), timeoutMs);
    this.sink.started(step);
  }

  log(step: number, level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void {
    if (!this.ended) this.sink.log(step, level, message, fields);
  }

  progress(step: number, fraction: number, message: string): void {
    if (!this.ended) this.sink.progress(step, fraction, message);
  }

  chunk(step: number, port: string, value: unknown): void {
    if (!this.ended) this.sink.chunk(step, port, value);
  }

  heartbeat(step: number, details: unknown): void {
    if (!this.ended) this.sink.heartbeat(step, details);
  }

  completed(step: number, outputs: Record<string, unknown>, durationUs: number): void {
    if (this.ended) return;
    this.disarm();
    if (step === this.request.steps.length - 1) this.end();
    this.sink.completed(step, outputs, durationUs);
  }

  failed(step: number, failure: FailureInfo, durationUs: number): void {
    if (this.ended) return;
    this.end();
    this.sink.failed(step, failure, durationUs);
  }

  cancelled(step: number, reason: string): void {
    if (this.ended) return;
    this.end();
    const timedOut = this.timedOut;
    if (timedOut === undefined || timedOut.step !== step || this.cancelledByCaller) {
      this.sink.cancelled(step, reason);
      return;
    }
    // Cancelled because the host's clock ran out: that is the step's timeout.
    const unstopped = reason.includes("did not stop");
    const restarted = this.settings.restartsUnresponsive;
    const stopped = !unstopped
      ? ""
      : restarted
        ? `; it did not stop within ${this.settings.graceMs} ms of its cancellation, so runtime "${this.runtime}" was restarted`
        : `; it did not stop within ${this.settings.graceMs} ms of its cancellation and runtime "${this.runtime}" cannot be restarted by the host, so it is not retried (a retry would run beside it)`;
    this.sink.failed(
      step,
      { message: `${timedOut.message}${stopped}`, type: "timeout", retryable: !unstopped || restarted },
      this.elapsedUs(),
    );
  }

  rejected(failure: FailureInfo): void {
    if (this.ended) return;
    this.end();
    this.sink.rejected(failure);
  }

  private expire(step: number, timeoutMs: number): void {
    this.timer = undefined;
    if (this.ended || this.step !== step) return;
    const request = this.request.steps[step]!;
    const message = `node "${request.nodeId}" (${request.nodeType}) timed out after ${timeoutMs} ms`;
    this.timedOut = { step, message };
    this.inner?.cancel(message);
    if (this.settings.restartsUnresponsive) return;
    const graceMs = this.settings.graceMs;
    this.fallback = this.settings.timers.set(
      () => {
        this.fallback = undefined;
        if (this.ended) return;
        this.end();
        this.sink.failed(
          step,
          {
            message: `${message}, and did not stop within ${graceMs} ms of its cancellation signal; it runs on inside the host, which cannot stop it, so it is not retried (a retry would run beside it); make the node honour its cancellation signal`,
            type: "timeout",
            retryable: false,
          },
          this.elapsedUs(),
        );
      },
      Math.round(graceMs * (1 + GRACE_MARGIN)),
    );
  }

  private elapsedUs(): number {
    return Math.round((performance.now() - this.startedAt) * 1000);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.settings.timers.clear(this.timer);
    this.timer = undefined;
  }

  private end(): void {
    this.ended = true;
    this.disarm();
    if (this.fallback !== undefined) this.settings.timers.clear(this.fallback);
    this.fallback = undefined;
  }
}
