import { isStreamCheckpoint } from "@conductor/sdk";
import { toFailureInfo } from "@conductor/sdk/protocol";
import type { ChannelSource } from "./remote-stream.js";
import type { StreamChannel } from "./stream-channel.js";

/**
 * Drives an in-process stream output: pulls the producer's `AsyncIterable` (the node's async generator) into its
 * channel, one item per credit, so the producer's code runs only as far ahead as the channel allows; nothing is
 * encoded. `credit` is the channel's `onCredit`; `stop` ends the producer's generator (its `finally` blocks run).
 */
export class PullSource implements ChannelSource {
  private readonly iterator: AsyncIterator<unknown>;
  private credits = 0;
  private pulling = false;
  private stopped = false;
  channel: StreamChannel | undefined;

  constructor(source: AsyncIterable<unknown>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  credit(credits: number): void {
    this.credits += credits;
    void this.pull();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // A generator suspended at a yield returns at once; one busy producing returns after its pending item.
    void Promise.resolve(this.iterator.return?.()).catch(() => undefined);
  }

  private async pull(): Promise<void> {
    const channel = this.channel;
    if (this.pulling || channel === undefined) return;
    this.pulling = true;
    try {
      while (this.credits > 0 && !this.stopped && channel.state === "open") {
        const result = await this.iterator.next();
        if (this.stopped) return;
        if (result.done === true) {
          channel.end();
          return;
        }
        // A checkpoint the producer marked between items costs no credit (docs/streaming.md, "Checkpoints").
        if (isStreamCheckpoint(result.value)) {
          channel.markCheckpoint(result.value.state);
          continue;
        }
        this.credits--;
        channel.push(result.value);
      }
    } catch (error) {
      if (!this.stopped) channel.fail(toFailureInfo(error));
    } finally {
      this.pulling = false;
    }
  }
}
