import type { NodeContext, NodeLogger } from "../node/node-context.js";
import type { StreamResume } from "../node/stream-port.js";
import type { InvocationSink, LogLevel } from "../protocol/invocation.js";

/**
 * The context of one running step. The AbortController is created only when a node reads `signal`, because most
 * trivial nodes never do and the hot path should not pay for it.
 */
export class StepContext implements NodeContext<unknown> {
  private controller: AbortController | undefined;
  private abortReason: string | undefined;
  private logger: NodeLogger | undefined;

  constructor(
    readonly config: unknown,
    readonly nodeId: string,
    readonly nodeType: string,
    readonly executionId: string,
    readonly attempt: number,
    private readonly sink: InvocationSink,
    private readonly step: number,
    readonly resume?: Readonly<Record<string, StreamResume>>,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(new Error(this.abortReason));
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** Fires the signal; the node sees `ctx.signal.aborted` and an abort event. */
  abort(reason: string): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(new Error(reason));
  }

  get log(): NodeLogger {
    if (this.logger === undefined) {
      const write = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) =>
        this.sink.log(this.step, level, message, fields);
      this.logger = {
        debug: write("debug"),
        info: write("info"),
        warn: write("warn"),
        error: write("error"),
      };
    }
    return this.logger;
  }

  progress(fraction: number, message = ""): void {
    this.sink.progress(this.step, fraction, message);
  }

  emit(port: string, value: unknown): void {
    this.sink.chunk(this.step, port, value);
  }

  heartbeat(details?: unknown): void {
    this.sink.heartbeat(this.step, details);
  }
}
