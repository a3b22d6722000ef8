import { diag } from "@opentelemetry/api";
import type { LeanSpan, LeanSpanSink } from "./lean-span.js";
import { EncodedSpans, resourceSpansFraming } from "./lean-span-encoder.js";
import { OtlpWriter } from "./otlp-span-writer.js";

/** Bytes left at the start of a batch's buffer for the request's head (resource, scope and lengths). */
const HEAD_ROOM = 1024;

/** What a {@link LeanSpanBatch} sends its requests with: the host's OTLP exporter (`createLeanOtlpExporter`). */
export interface EncodedSpansExporter {
  export(spans: EncodedSpans, done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

/** When a batch goes out and how many spans may wait: the batch span processor's settings (OTEL_BSP_*). */
export interface LeanSpanBatchSettings {
  scheduledDelayMillis: number;
  maxExportBatchSize: number;
  maxQueueSize: number;
}

/**
 * The host's spans on their way to its OTLP exporter, batched as OpenTelemetry's batch span processor batches them
 * (a batch goes out when it holds `maxExportBatchSize` spans or `scheduledDelayMillis` after its first span, one
 * export at a time, at most `maxQueueSize` spans waiting, the rest dropped and counted), but each span is encoded
 * when it ends, into the batch's buffer, rather than kept as an object until its batch is exported. Because: kept,
 * thousands of span objects per batch outlived the young generation and were the garbage collector's work, and
 * encoding them all at export time (in the call that ended the batch's last span) touched each one again.
 * Used when the host exports with its own exporter; with another one (tests give an in-memory exporter), the
 * spans go to the SDK's batch span processor as `ReadableSpan`s.
 */
export class LeanSpanBatch {
  private writer: OtlpWriter;
  /** Spans that ended in this turn of the event loop, to encode after it. */
  private readonly ended: LeanSpan[] = [];
  /** Spans in {@link writer}. */
  private count = 0;
  /** Batches encoded and not sent yet, and their spans with those of the batch being sent. */
  private readonly queued: EncodedSpans[] = [];
  private waiting = 0;
  private sending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Spans dropped because the queue was full, since the last warning. */
  private dropped = 0;

  /** What comes before and after the spans of a request (the resource and scope), encoded once. */
  private readonly framing: ReturnType<typeof resourceSpansFraming>;
  /** A buffer whose request was sent, for the next batch (so that a batch allocates none). */
  private spare: Uint8Array | undefined;

  constructor(
    sink: LeanSpanSink,
    private readonly exporter: EncodedSpansExporter,
    private readonly settings: LeanSpanBatchSettings,
  ) {
    this.framing = resourceSpansFraming(sink);
    this.writer = this.newWriter();
  }

  /** A span that ended: encoded into the batch after the current turn of the event loop. */
  add(span: LeanSpan): void {
    if (this.closed) return;
    if (this.waiting + this.count + this.ended.length >= this.settings.maxQueueSize) {
      if (this.dropped++ === 0) diag.debug("maxQueueSize reached, dropping spans");
      return;
    }
    if (this.dropped > 0) {
      diag.warn(`Dropped ${this.dropped} spans because maxQueueSize reached`);
      this.dropped = 0;
    }
    if (this.ended.length === 0) setImmediate(this.encodeEnded);
    this.ended.push(span);
  }

  /** Sends every span that ended, and resolves when the exports are done. */
  async flush(): Promise<void> {
    this.encodeEnded();
    this.seal();
    while (this.sending !== undefined) await this.sending;
  }

  /** Flushes, then stops: spans that end after this are not exported. */
  async shutdown(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.exporter.shutdown();
  }

  /**
   * Encodes the spans that ended in the last turn, when it is over (a `setImmediate`), because: encoded as each
   * ends, their encoding would be part of the execution that ends them (its latency), where a batch processor
   * leaves its work to the time between requests. They are kept for that turn only (they die young).
   */
  private readonly encodeEnded = (): void => {
    const ended = this.ended;
    for (let i = 0; i < ended.length; i++) {
      ended[i]!.encode(this.writer);
      this.count++;
      if (this.count >= this.settings.maxExportBatchSize) this.seal();
    }
    ended.length = 0;
    if (this.count > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.seal();
      }, this.settings.scheduledDelayMillis);
      this.timer.unref();
    }
  };

  /** A writer for a batch: its spans start after room for the request's head (see {@link seal}). */
  private newWriter(): OtlpWriter {
    const spare = this.spare;
    this.spare = undefined;
    // About 400 bytes per span of the host.
    const writer = new OtlpWriter(
      spare ?? new Uint8Array(Math.min(448 * this.settings.maxExportBatchSize, 4 * 1024 * 1024)),
    );
    writer.pos = HEAD_ROOM;
    return writer;
  }

  /** The batch being written is complete: it joins the queue, and goes out when no export is under way. */
  private seal(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.count === 0) return;
    // The request's head goes just before the spans, in the room left for it (or, larger, in a copy).
    const writer = this.writer;
    const head = this.framing.head(writer.pos - HEAD_ROOM);
    writer.raw(this.framing.tail);
    let bytes: Uint8Array;
    if (head.length <= HEAD_ROOM) {
      writer.buffer.set(head, HEAD_ROOM - head.length);
      bytes = writer.buffer.subarray(HEAD_ROOM - head.length, writer.pos);
    } else {
      bytes = new Uint8Array(head.length + writer.pos - HEAD_ROOM);
      bytes.set(head);
      bytes.set(writer.buffer.subarray(HEAD_ROOM, writer.pos), head.length);
    }
    this.queued.push(new EncodedSpans(bytes, this.count));
    this.waiting += this.count;
    this.writer = this.newWriter();
    this.count = 0;
    this.next();
  }

  private next(): void {
    if (this.sending !== undefined) return;
    const batch = this.queued.shift();
    if (batch === undefined) return;
    this.sending = new Promise((resolve) => {
      this.exporter.export(batch, (result) => {
        // ExportResultCode.SUCCESS is 0; a failure is reported as the SDK's processor reports it.
        if (result.code !== 0) diag.error("the host's span export failed", result.error ?? "no reason given");
        this.waiting -= batch.length;
        // Its bytes are sent: their buffer can take the next batch.
        this.spare = new Uint8Array(batch.bytes.buffer);
        this.sending = undefined;
        resolve();
        this.next();
      });
    });
  }
}
