import { NodeFailure } from "@conductor/sdk";
import type { FailureInfo } from "@conductor/sdk/protocol";

/** Options of a {@link StreamChannel}. */
export interface StreamChannelOptions {
  /** The producing node's id and its stream output port, for messages. */
  producer: string;
  port: string;
  /** How many consumers read the stream, each at its own pace (0: nobody reads it as a stream). */
  readers: number;
  /** The credits: the most items the producer may be ahead of the slowest reader. */
  window: number;
  /** Keep every item, for inputs that collect the stream into one list (`collect: true`). */
  collect: boolean;
  /** The producer may send `credits` more items. */
  onCredit(credits: number): void;
  /**
   * Every reader stopped before the stream ended: the producer should stop (its items are no longer read). Not
   * called for a stream some input collects.
   */
  onAbandoned(): void;
  /** The stream ended, failed or was stopped (called once). */
  onSettled(): void;
  /** An item was pushed; `count` items so far. */
  onItem?(count: number): void;
  /**
   * The producer failed: gives true when it will be retried from its checkpoint, and the stream goes on (it is
   * suspended until {@link StreamChannel.resume}); false fails it.
   */
  onFailure?(failure: FailureInfo): boolean;
}

/** The producer's last checkpoint in a stream: the items before it, and what it needs to make those after. */
export interface ChannelCheckpoint {
  offset: number;
  state: unknown;
}

/** How a stream ended, or that it goes on. */
export type StreamState = "open" | "ended" | "failed" | "stopped";

const DETACHED = -1;

/**
 * One reader's items of a channel: an `AsyncIterable`, naming the stream output it reads, so that a child runtime
 * given it as a stream input is told where it comes from (`Input.stream`, docs/protocol.md §3.5).
 */
export class ChannelReader implements AsyncIterable<unknown> {
  constructor(
    readonly producer: string,
    readonly port: string,
    private readonly iterator: AsyncIterator<unknown>,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return this.iterator;
  }
}

/**
 * One stream output of one node attempt, between its producer and its readers. The producer pushes items within
 * the credits the channel grants (`window` ahead of the slowest reader); each reader iterates at its own pace, and
 * the channel drops an item once every reader has read it, granting one more credit. So the memory a stream holds
 * is bounded by the window, whatever its length, and two readers go at the pace of the slower one. The host never
 * looks inside an item: in-process items are live values, items from a runtime stay in their wire form.
 */
export class StreamChannel {
  /** Items pushed so far. */
  count = 0;
  state: StreamState = "open";
  failure: FailureInfo | undefined;
  /** Every item, when some input collects the stream. */
  readonly collected: unknown[] | undefined;

  private readonly buffer: unknown[] = [];
  /** The sequence number of buffer[0]. */
  private base = 0;
  /** By reader: the sequence number it reads next, or DETACHED. */
  private readonly cursors: number[];
  private readonly wakers: ((() => void) | undefined)[];
  private granted = 0;
  /** Why the stream was stopped, when it was. */
  stopReason = "";
  /** The producer's last checkpoint (docs/streaming.md, "Checkpoints"). */
  checkpoint: ChannelCheckpoint | undefined;
  /** Its producer failed and is being retried from the checkpoint: items of the failed attempt are ignored. */
  private suspended = false;
  /** Items the retried producer sends again that the readers already have (dropped as they come). */
  private skip = 0;

  constructor(private readonly options: StreamChannelOptions) {
    this.cursors = new Array<number>(options.readers).fill(0);
    this.wakers = new Array(options.readers).fill(undefined);
    if (options.collect) this.collected = [];
  }

  /** Grants the first window of credits. */
  start(): void {
    this.grant(this.options.window);
  }

  /** Items held now, read by some readers but not all (bounded by the window). */
  get buffered(): number {
    return this.buffer.length;
  }

  /** A plain description of the stream, for events and records (never its items). */
  describe(): { stream: string; items: number; state: StreamState } {
    return { stream: `${this.options.producer}.${this.options.port}`, items: this.count, state: this.state };
  }

  /** Adds the next item; a producer sending beyond its credits fails the stream. */
  push(item: unknown): void {
    if (this.state !== "open" || this.suspended) return;
    if (this.skip > 0) {
      // Sent again by a producer resumed from its checkpoint: the readers have it. Its credit goes back.
      this.skip--;
      this.options.onCredit(1);
      return;
    }
    if (this.count >= this.granted) {
      this.fail({
        message: `node "${this.options.producer}" sent item ${this.count} of stream "${this.options.port}" beyond the ${this.granted} credits it was granted`,
        type: "stream.overrun",
        retryable: false,
      });
      return;
    }
    this.count++;
    this.collected?.push(item);
    this.options.onItem?.(this.count);
    if (this.liveReaders() === 0) {
      // Nobody reads it as a stream (it is only collected, or unread): the item is not held for anyone.
      this.base++;
      this.grant(1);
      return;
    }
    this.buffer.push(item);
    this.wakeAll();
  }

  /** The producer marked a checkpoint after the items it sent so far (those it sends again included). */
  markCheckpoint(state: unknown): void {
    if (this.state !== "open" || this.suspended) return;
    this.checkpoint = { offset: this.count - this.skip, state };
  }

  /**
   * The stream waits for its producer's retry (another stream of the same producer failed): items of the current
   * attempt are ignored from now on.
   */
  suspend(): void {
    if (this.state === "open") this.suspended = true;
  }

  /**
   * The producer's retry streams again from the checkpoint: the items it sends up to what the readers already
   * have are dropped, and it is granted the credits the failed attempt had not used, plus one per dropped item.
   */
  resume(): void {
    if (this.state !== "open" || !this.suspended) return;
    this.suspended = false;
    this.skip = this.count - (this.checkpoint?.offset ?? 0);
    const credits = this.granted - this.count + this.skip;
    if (credits > 0) this.options.onCredit(credits);
  }

  /** The producer finished the stream. */
  end(): void {
    if (this.state !== "open" || this.suspended) return;
    this.state = "ended";
    this.wakeAll();
    this.options.onSettled();
  }

  /**
   * The producer failed: each reader gets the failure where it iterates, unless the producer is retried from its
   * checkpoint (`onFailure`), and the stream is suspended until then. `final`: fail it even so (the retry failed
   * before it streamed).
   */
  fail(failure: FailureInfo, final = false): void {
    if (this.state !== "open" || (this.suspended && !final)) return;
    if (!final && this.options.onFailure?.(failure) === true) {
      this.suspended = true;
      return;
    }
    this.suspended = false;
    this.state = "failed";
    this.failure = failure;
    this.wakeAll();
    this.options.onSettled();
  }

  /** The stream stops for another reason (the execution was cancelled); readers get an error saying why. */
  stop(reason: string): void {
    if (this.state !== "open") return;
    this.state = "stopped";
    this.stopReason = reason;
    this.buffer.length = 0;
    this.wakeAll();
    this.options.onSettled();
  }

  /** The items for reader `index`, from the first one, for the consumer node `consumer`. */
  reader(index: number, consumer: string): ChannelReader {
    // biome-ignore lint/complexity/noUselessThisAlias: the iterator's methods are not bound to the channel.
    const channel = this;
    const iterator: AsyncIterator<unknown> = {
      next: () => channel.next(index, consumer),
      return: (value?: unknown) => {
        channel.detach(index);
        return Promise.resolve({ done: true, value });
      },
    };
    return new ChannelReader(this.options.producer, this.options.port, iterator);
  }

  /** Reader `index` will read no more (its consumer ended, or stopped iterating). */
  detach(index: number): void {
    if (this.cursors[index] === DETACHED || index >= this.cursors.length) return;
    this.cursors[index] = DETACHED;
    this.wakers[index] = undefined;
    this.trim();
    // A stream some input collects is read to its end for it, whatever its other readers do.
    if (
      this.state === "open" &&
      this.options.readers > 0 &&
      !this.options.collect &&
      this.liveReaders() === 0
    ) {
      this.options.onAbandoned();
    }
  }

  private async next(index: number, consumer: string): Promise<IteratorResult<unknown>> {
    for (;;) {
      const cursor = this.cursors[index]!;
      if (cursor === DETACHED) return { done: true, value: undefined };
      if (this.state === "stopped") throw this.stoppedError(consumer);
      // The items pushed before a failure are read first (a runtime's items and its failure may arrive together).
      if (cursor < this.base + this.buffer.length) {
        const value = this.buffer[cursor - this.base];
        this.cursors[index] = cursor + 1;
        this.trim();
        return { done: false, value };
      }
      if (this.state === "failed") throw this.upstreamError(consumer);
      if (this.state === "ended") return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        this.wakers[index] = resolve;
      });
    }
  }

  private upstreamError(consumer: string): NodeFailure {
    const failure = this.failure!;
    return new NodeFailure(
      `node "${consumer}" reads stream "${this.options.producer}.${this.options.port}", which failed after ${this.count} items: ${failure.message}`,
      {
        type: "stream.upstream",
        retryable: failure.retryable,
        details: {
          producer: this.options.producer,
          port: this.options.port,
          items: this.count,
          type: failure.type,
        },
      },
    );
  }

  private stoppedError(consumer: string): NodeFailure {
    return new NodeFailure(
      `node "${consumer}" reads stream "${this.options.producer}.${this.options.port}", which stopped after ${this.count} items: ${this.stopReason}`,
      { type: "stream.stopped", retryable: false },
    );
  }

  /** Drops the items every reader has read, granting a credit for each. */
  private trim(): void {
    let slowest = Number.POSITIVE_INFINITY;
    for (const cursor of this.cursors) if (cursor !== DETACHED && cursor < slowest) slowest = cursor;
    if (slowest === Number.POSITIVE_INFINITY) slowest = this.base + this.buffer.length;
    const drop = slowest - this.base;
    if (drop <= 0) return;
    this.buffer.splice(0, drop);
    this.base = slowest;
    if (this.state === "open") this.grant(drop);
  }

  private grant(credits: number): void {
    this.granted += credits;
    this.options.onCredit(credits);
  }

  private liveReaders(): number {
    let live = 0;
    for (const cursor of this.cursors) if (cursor !== DETACHED) live++;
    return live;
  }

  private wakeAll(): void {
    for (let i = 0; i < this.wakers.length; i++) {
      const wake = this.wakers[i];
      if (wake !== undefined) {
        this.wakers[i] = undefined;
        wake();
      }
    }
  }
}
