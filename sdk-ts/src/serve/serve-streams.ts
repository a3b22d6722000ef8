import { NodeFailure } from "../node/node-failure.js";
import { isAsyncIterable, isStreamCheckpoint } from "../node/stream-port.js";
import { type FailureInfo, toFailureInfo } from "../protocol/failure.js";
import type { InvocationRequest, InvocationSink } from "../protocol/invocation.js";
import type { CreditCommand, StreamItemsCommand } from "../protocol/session-request-codec.js";
import type { NodeRuntime } from "../runtime/node-runtime.js";

/** Items a step's stream input grants at first, and the size of each later grant (docs/protocol.md §3.5). */
export const INPUT_WINDOW = 64;
const REGRANT = INPUT_WINDOW / 2;

const key = (invocationId: number, step: number, port: string) => `${invocationId}/${step}/${port}`;

/**
 * The streams of one session served over the ABI (docs/protocol.md §3.5): a stream input becomes an
 * `AsyncIterable` fed by `StreamItems` commands, granting credits with `Credit` events as the node reads; a stream
 * output (an `AsyncIterable` the node returned) is sent item by item as `Chunk` events only while the host's
 * credits last, then the step's `completed` without the stream port (or `failed`, or `cancelled` on a Cancel,
 * which closes the node's generator so its `finally` blocks run).
 */
export class ServedStreams {
  private readonly inputs = new Map<string, StreamInputQueue>();
  private readonly credits = new Map<string, OutputCredits>();
  private readonly pumps = new Map<number, Set<OutputPump>>();

  constructor(private readonly runtime: NodeRuntime) {}

  /** Replaces the stream inputs of `request` (`Input.stream`) with iterables that the commands will feed. */
  prepare(request: InvocationRequest, sink: InvocationSink): void {
    const id = request.invocationId;
    request.steps.forEach((step, index) => {
      for (const port in step.inputs) {
        const input = step.inputs[port]!;
        if (!("stream" in input)) continue;
        const queue = new StreamInputQueue(
          `node "${step.nodeId}" (${step.nodeType})`,
          port,
          input.stream.nodeId === "" ? "" : `${input.stream.nodeId}.${input.stream.port}`,
          (credits) => sink.credit?.(index, port, credits),
        );
        this.inputs.set(key(id, index, port), queue);
        step.inputs[port] = { value: queue };
      }
    });
  }

  /**
   * Wraps an invocation's sink so that a step completing with stream outputs streams them first. `onEnd` runs once
   * the invocation's last event was sent.
   */
  wrap(request: InvocationRequest, sink: InvocationSink): InvocationSink {
    const id = request.invocationId;
    const forget = () => {
      for (const k of [...this.inputs.keys()]) if (k.startsWith(`${id}/`)) this.inputs.delete(k);
      for (const k of [...this.credits.keys()]) if (k.startsWith(`${id}/`)) this.credits.delete(k);
      this.pumps.delete(id);
    };
    const streamPorts = (step: number) =>
      this.runtime
        .nodeType(request.steps[step]?.nodeType ?? "")
        ?.outputs.filter((port) => port.stream)
        .map((port) => port.name) ?? [];
    const lastStep = request.steps.length - 1;
    return {
      started: (step) => sink.started(step),
      log: (step, level, message, fields) => sink.log(step, level, message, fields),
      progress: (step, fraction, message) => sink.progress(step, fraction, message),
      chunk: (step, port, value) => sink.chunk(step, port, value),
      heartbeat: (step, details) => sink.heartbeat(step, details),
      credit: (step, port, credits) => sink.credit?.(step, port, credits),
      completed: (step, outputs, durationUs) => {
        const ports = streamPorts(step).filter((port) => isAsyncIterable(outputs[port]));
        if (ports.length === 0) {
          if (step === lastStep) forget();
          sink.completed(step, outputs, durationUs);
          return;
        }
        const plain: Record<string, unknown> = {};
        for (const port in outputs) if (!ports.includes(port)) plain[port] = outputs[port];
        const started = performance.now();
        const pump = new OutputPump(
          ports.map((port) => ({
            port,
            iterator: (outputs[port] as AsyncIterable<unknown>)[Symbol.asyncIterator](),
            credits: this.creditsOf(key(id, step, port)),
          })),
          (port, item) => sink.chunk(step, port, item),
          (port, state) => sink.checkpoint?.(step, port, state),
        );
        let set = this.pumps.get(id);
        if (set === undefined) {
          set = new Set();
          this.pumps.set(id, set);
        }
        set.add(pump);
        void pump.run().then((end) => {
          forget();
          const total = Math.round((performance.now() - started) * 1000) + durationUs;
          if (end.kind === "ended") sink.completed(step, plain, total);
          else if (end.kind === "failed") sink.failed(step, end.failure, total);
          else sink.cancelled(step, end.reason);
        });
      },
      failed: (step, failure, durationUs) => {
        forget();
        sink.failed(step, failure, durationUs);
      },
      cancelled: (step, reason) => {
        forget();
        sink.cancelled(step, reason);
      },
      rejected: (failure) => {
        forget();
        sink.rejected(failure);
      },
    };
  }

  /** A `Credit` command: more items for a step's stream output (it may come before the step streams). */
  credit(command: CreditCommand): void {
    this.creditsOf(key(command.invocationId, command.step, command.port)).add(command.credits);
  }

  /** A `StreamItems` command: the next items of a step's stream input. */
  items(command: StreamItemsCommand): void {
    this.inputs.get(key(command.invocationId, command.step, command.port))?.push(command);
  }

  /** A Cancel: stops the invocation's streaming outputs (closing the node's generators). */
  cancel(invocationId: number, reason: string): void {
    for (const pump of this.pumps.get(invocationId) ?? []) pump.cancel(reason);
  }

  private creditsOf(k: string): OutputCredits {
    let credits = this.credits.get(k);
    if (credits === undefined) {
      credits = new OutputCredits();
      this.credits.set(k, credits);
    }
    return credits;
  }
}

/** The credits the host granted one stream output; `take` waits for one. */
class OutputCredits {
  private available = 0;
  private waiter: (() => void) | undefined;

  add(credits: number): void {
    this.available += credits;
    this.wake();
  }

  /** Resolves true when a credit was taken, false when `stopped` woke it instead. */
  async take(stopped: () => boolean): Promise<boolean> {
    while (this.available === 0) {
      if (stopped()) return false;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
    if (stopped()) return false;
    this.available--;
    return true;
  }

  wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

type PumpEnd =
  | { kind: "ended" }
  | { kind: "failed"; failure: FailureInfo }
  | { kind: "cancelled"; reason: string };

/** Sends the items of a step's stream outputs within their credits, each port at its own pace. */
class OutputPump {
  private cancelReason: string | undefined;

  constructor(
    private readonly streams: { port: string; iterator: AsyncIterator<unknown>; credits: OutputCredits }[],
    private readonly send: (port: string, item: unknown) => void,
    private readonly mark: (port: string, state: unknown) => void,
  ) {}

  cancel(reason: string): void {
    if (this.cancelReason !== undefined) return;
    this.cancelReason = reason;
    for (const stream of this.streams) stream.credits.wake();
  }

  async run(): Promise<PumpEnd> {
    let failure: FailureInfo | undefined;
    const stopped = () => this.cancelReason !== undefined || failure !== undefined;
    await Promise.all(
      this.streams.map(async ({ port, iterator, credits }) => {
        try {
          // A checkpoint the generator yields is sent as one, and costs no credit: the one taken is kept.
          let held = false;
          for (;;) {
            if (!held && !(await credits.take(stopped))) break;
            held = false;
            const result = await iterator.next();
            if (result.done === true) return;
            if (stopped()) break;
            if (isStreamCheckpoint(result.value)) {
              this.mark(port, result.value.state);
              held = true;
              continue;
            }
            this.send(port, result.value);
          }
        } catch (error) {
          if (!stopped()) failure = toFailureInfo(error);
          for (const other of this.streams) other.credits.wake();
          return;
        }
        // Stopped (a Cancel, or another port failed): close the generator so its finally blocks run.
        await Promise.resolve(iterator.return?.()).catch(() => undefined);
      }),
    );
    if (failure !== undefined) return { kind: "failed", failure };
    if (this.cancelReason !== undefined) return { kind: "cancelled", reason: this.cancelReason };
    return { kind: "ended" };
  }
}

/**
 * A step's stream input: the items the host sends in `StreamItems` commands, read by the node with `for await`.
 * It grants the first window when the node starts reading, then half a window whenever half of it was read, so it
 * never holds more items than it granted. The producer's failure is raised where the node iterates, as a
 * `stream.upstream` failure keeping its message.
 */
export class StreamInputQueue implements AsyncIterable<unknown> {
  private readonly buffer: unknown[] = [];
  private granted = 0;
  private consumed = 0;
  private ended = false;
  private failure: FailureInfo | undefined;
  private closed = false;
  private waiter: (() => void) | undefined;

  constructor(
    private readonly label: string,
    private readonly port: string,
    private readonly source: string,
    private readonly grant: (credits: number) => void,
  ) {}

  push(command: StreamItemsCommand): void {
    if (this.closed) return;
    this.buffer.push(...command.items);
    if (command.end) this.ended = true;
    if (command.failure !== undefined) this.failure = command.failure;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return {
      next: () => this.next(),
      return: (value?: unknown) => {
        this.closed = true;
        this.buffer.length = 0;
        return Promise.resolve({ done: true, value });
      },
    };
  }

  private async next(): Promise<IteratorResult<unknown>> {
    if (this.granted === 0 && !this.closed) {
      this.granted = INPUT_WINDOW;
      this.grant(INPUT_WINDOW);
    }
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      if (this.buffer.length > 0) {
        const item = this.buffer.shift();
        this.consumed++;
        if (!this.ended && this.failure === undefined && this.granted - this.consumed <= REGRANT) {
          this.granted += REGRANT;
          this.grant(REGRANT);
        }
        return { done: false, value: item };
      }
      if (this.failure !== undefined) {
        throw new NodeFailure(this.failure.message, {
          type: "stream.upstream",
          retryable: this.failure.retryable,
          details: { port: this.port, source: this.source, items: this.consumed, type: this.failure.type },
        });
      }
      if (this.ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  /** For messages. */
  toString(): string {
    return `stream input "${this.port}" of ${this.label}`;
  }
}
