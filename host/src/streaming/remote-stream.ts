import type { FailureInfo } from "@conductor/sdk/protocol";
import { toFailureInfo } from "@conductor/sdk/protocol";
import type { StreamChannel } from "./stream-channel.js";

/**
 * What feeds a {@link StreamChannel}: the channel grants it credits as readers consume items, and stops it when
 * every reader is gone or the execution is cancelled. {@link PullSource} pulls an in-process generator;
 * {@link RemoteOutputStream} relays a child runtime's stream output.
 */
export interface ChannelSource {
  channel: StreamChannel | undefined;
  credit(credits: number): void;
  stop(): void;
}

/** Credits a runtime is granted with `Execute` for each stream output (docs/protocol.md §3.5). */
export const INITIAL_CREDITS = 64;

/** What a {@link RemoteOutputStream} asks of the session it came from. */
export interface RemoteOutputLink {
  /** Sends a `Credit` command for the producing step's port. */
  sendCredit(credits: number): void;
  /** Cancels the producing invocation (every reader stopped, or the runtime overran its credits). */
  cancel(reason: string): void;
  /** `node "p" (t) on runtime "r"`, for messages. */
  label: string;
}

/**
 * One stream output of a step running in a child runtime (docs/protocol.md §3.5). The runtime sends the items as
 * `Chunk` events within the credits the host granted (the first window with `Execute`, then `Credit` commands as
 * the channel's readers consume); the items are kept as they came (encoded values, never decoded by the host) and
 * pushed into the channel within the channel's own credits. A runtime that sends more than it was granted fails
 * the stream with `stream.overrun`.
 */
export class RemoteOutputStream implements ChannelSource {
  channel: StreamChannel | undefined;
  /** Items the runtime sent that the channel has no credit for yet (at most the window). */
  private readonly queue: unknown[] = [];
  private channelCredits = 0;
  /** Credits already granted to the runtime with Execute, which the channel's first grants stand for. */
  private preGranted: number;
  private granted: number;
  private received = 0;
  private terminal: { kind: "ended" } | { kind: "failed"; failure: FailureInfo } | undefined;
  private stopped = false;

  constructor(
    readonly port: string,
    private readonly link: RemoteOutputLink,
    initialCredits = INITIAL_CREDITS,
  ) {
    this.preGranted = initialCredits;
    this.granted = initialCredits;
  }

  /** Items received from the runtime so far. */
  get itemsReceived(): number {
    return this.received;
  }

  /** The next item arrived from the runtime (a `Chunk` on the port). */
  receive(item: unknown): void {
    if (this.stopped || this.terminal !== undefined) return;
    this.received++;
    if (this.received > this.granted) {
      const failure: FailureInfo = {
        message: `${this.link.label} sent item ${this.received - 1} of stream "${this.port}" beyond the ${this.granted} credits it was granted`,
        type: "stream.overrun",
        retryable: false,
      };
      this.link.cancel(failure.message);
      this.finish({ kind: "failed", failure });
      return;
    }
    this.queue.push(item);
    this.drain();
  }

  /**
   * The runtime marked a checkpoint after the items it sent so far (an `Event.checkpoint`): the channel gets it
   * after those items, at no credit.
   */
  checkpoint(state: unknown): void {
    if (this.stopped || this.terminal !== undefined) return;
    this.queue.push(new QueuedCheckpoint(state));
    this.drain();
  }

  /** The step completed: the stream ends after the items already received. */
  end(): void {
    this.finish({ kind: "ended" });
  }

  /** The step failed (or was cancelled by the runtime): the readers get the failure after the items received. */
  fail(failure: FailureInfo): void {
    this.finish({ kind: "failed", failure });
  }

  credit(credits: number): void {
    this.channelCredits += credits;
    const absorbed = Math.min(credits, this.preGranted);
    this.preGranted -= absorbed;
    const more = credits - absorbed;
    if (more > 0 && !this.stopped && this.terminal === undefined) {
      this.granted += more;
      this.link.sendCredit(more);
    }
    this.drain();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.queue.length = 0;
    if (this.terminal === undefined) this.link.cancel("every node reading its streams stopped");
  }

  private finish(terminal: NonNullable<RemoteOutputStream["terminal"]>): void {
    if (this.terminal !== undefined) return;
    this.terminal = terminal;
    this.drain();
  }

  private drain(): void {
    const channel = this.channel;
    if (channel === undefined || this.stopped) return;
    while (this.queue.length > 0 && channel.state === "open") {
      const head = this.queue[0];
      if (head instanceof QueuedCheckpoint) {
        this.queue.shift();
        channel.markCheckpoint(head.state);
        continue;
      }
      if (this.channelCredits === 0) break;
      this.channelCredits--;
      channel.push(this.queue.shift());
    }
    if (this.queue.length > 0 || this.terminal === undefined) return;
    if (this.terminal.kind === "ended") channel.end();
    else channel.fail(this.terminal.failure);
  }
}

/** A checkpoint among the items a {@link RemoteOutputStream} holds, kept in their order. */
class QueuedCheckpoint {
  constructor(readonly state: unknown) {}
}

/** What a {@link RemoteInputFeed} asks of the session it feeds. */
export interface RemoteInputLink {
  /** Sends a `StreamItems` command (items as they are: encoded values pass through without decoding). */
  send(items: unknown[], end: boolean, failure?: FailureInfo): void;
}

/**
 * One stream input of a step running in a child runtime: reads the host's reader of the producer's channel (the
 * items of another runtime stay encoded) and forwards the items as `StreamItems` commands, never more than the
 * runtime granted with `Credit` events; then `end`, or the producer's failure. Items read in the same tick leave
 * in one command.
 */
export class RemoteInputFeed {
  private readonly iterator: AsyncIterator<unknown>;
  private credits = 0;
  private pumping = false;
  private closed = false;
  private batch: unknown[] = [];
  private batchScheduled = false;
  /** Items forwarded so far. */
  sent = 0;

  constructor(
    source: AsyncIterable<unknown>,
    private readonly link: RemoteInputLink,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** The runtime granted `credits` more items (a `Credit` event). */
  credit(credits: number): void {
    this.credits += credits;
    void this.pump();
  }

  /** The consuming step ended: its reader reads no more. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.batch = [];
    void Promise.resolve(this.iterator.return?.()).catch(() => undefined);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.credits > 0 && !this.closed) {
        let result: IteratorResult<unknown>;
        try {
          result = await this.iterator.next();
        } catch (error) {
          if (this.closed) return;
          this.flushBatch();
          this.closed = true;
          this.link.send([], false, toFailureInfo(error));
          return;
        }
        if (this.closed) return;
        if (result.done === true) {
          this.flushBatch(true);
          this.closed = true;
          return;
        }
        this.credits--;
        this.sent++;
        this.batch.push(result.value);
        if (!this.batchScheduled) {
          this.batchScheduled = true;
          process.nextTick(() => this.flushBatch());
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private flushBatch(end = false): void {
    this.batchScheduled = false;
    if (this.batch.length === 0 && !end) return;
    const items = this.batch;
    this.batch = [];
    this.link.send(items, end);
  }
}
