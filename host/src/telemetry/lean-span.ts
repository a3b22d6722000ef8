import {
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  type TimeInput,
  type TraceState,
} from "@opentelemetry/api";
import { encodeSpanAttributes, type OtlpWriter, slabBytes, stringField } from "./otlp-span-writer.js";

/**
 * What the spans of one process share: the resource and instrumentation scope they are exported with (taken from
 * an SDK span of the same tracer, so the exporter groups them with the SDK's own spans) and the SDK's batch span
 * processor they go to when they end.
 */
export interface LeanSpanSink {
  readonly resource: unknown;
  readonly instrumentationScope: unknown;
  /** Takes a span that ended (the SDK's batch span processor's `onEnd`). */
  ended(span: LeanSpan): void;
}

const EMPTY: never[] = [];
const UNSET: SpanStatus = { code: 0 };

// The wall clock at the monotonic clock's zero, as the SDK anchors its spans (Date.now() at their start), so that
// these spans and the SDK's agree; taken again every second, since the two drift (not per execution: a clock read
// costs more than a quarter of a microsecond on a busy virtual machine).
let anchor = Date.now() - performance.now();
setInterval(() => {
  anchor = Date.now() - performance.now();
}, 1000).unref();

/** Milliseconds since the epoch of an `HrTime`. */
export function msOfHrTime(time: HrTime): number {
  return time[0] * 1000 + time[1] / 1e6;
}

/** Milliseconds since the epoch, with the sub-millisecond part of the monotonic clock. */
export function epochMs(): number {
  return anchor + performance.now();
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

function msOf(time: TimeInput | undefined): number {
  if (time === undefined) return epochMs();
  // A number is the API's: milliseconds since the epoch, or a reading of performance.now().
  if (typeof time === "number") return time < 1e12 ? anchor + time : time;
  if (time instanceof Date) return time.getTime();
  return time[0] * 1000 + time[1] / 1e6;
}

// Span ids: 64 random bits each, taken from a pool that crypto.getRandomValues fills 512 ids at a time, because one
// call per id (and its hex) cost more than the rest of a span; kept as two numbers, in hex only when asked for.
const pool = new Uint32Array(1024);
let drawn = pool.length;
function draw(): number {
  if (drawn === pool.length) {
    crypto.getRandomValues(pool);
    drawn = 0;
  }
  return pool[drawn++]!;
}

// Hex digits by byte, because Number#toString(16) of a 32-bit number showed up in profiles.
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
function hex8(value: number): string {
  return HEX[value >>> 24]! + HEX[(value >>> 16) & 255]! + HEX[(value >>> 8) & 255]! + HEX[value & 255]!;
}

// The API's key of the active span in a context (the API makes it with Symbol.for, so it is this same symbol).
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/**
 * Attributes that many spans share (those of an execution, those of a node of a graph), encoded once as OTLP
 * KeyValue fields that every span carrying them copies (see `lean-span-encoder.ts`).
 */
export class AttributeChunk {
  private bytes: Uint8Array | undefined;
  constructor(readonly attributes: Attributes) {}
  /** The encoding, made when a span carrying it is first exported (off the path that makes the spans). */
  get encoded(): Uint8Array {
    this.bytes ??= encodeSpanAttributes(this.attributes);
    return this.bytes;
  }
}

/** The chunk of these attributes (build it once, share it between spans). */
export function attributeChunk(attributes: Attributes): AttributeChunk {
  return new AttributeChunk(attributes);
}

/** No attributes. */
export const NO_CHUNK = new AttributeChunk({});

/**
 * What the spans of one trace share: the trace id (hex and bytes), the trace state, and the parent of its first
 * span (the execution's): an incoming remote span context, or none.
 */
export interface LeanRoot {
  readonly traceId: string;
  readonly traceIdBytes: Uint8Array;
  /** The trace id as a span's field: its tag (1), its length (16) and its bytes. */
  readonly traceField: Uint8Array;
  readonly traceState: TraceState | undefined;
  /** The remote parent of the trace's first span, if any, and its span id as bytes. */
  readonly parent: SpanContext | undefined;
  readonly parentIdBytes: Uint8Array | undefined;
}

/** The {@link LeanRoot} of a trace: its id (hex), trace state, and the remote parent of its first span. */
export function leanRoot(
  traceId: string,
  traceState: TraceState | undefined,
  parent: SpanContext | undefined,
): LeanRoot {
  const traceField = traceFieldBytes();
  hexInto(traceId, traceField.subarray(2));
  return new KnownRoot(traceId, traceField, traceState, parent);
}

/**
 * The {@link LeanRoot} of a new trace with a random id, written as bytes at once and in hex only when something
 * asks for it (a traceparent sent to a runtime process, an event): an in-process execution whose events nobody
 * reads never formats it, because drawing the id as hex and reading the hex back cost more than the rest of the
 * trace's start on a busy host.
 */
export function randomLeanRoot(): LeanRoot {
  const traceField = traceFieldBytes();
  const view = new DataView(traceField.buffer, traceField.byteOffset + 2, 16);
  let high = draw();
  let low = draw();
  while ((high | low) === 0) {
    high = draw();
    low = draw();
  }
  view.setUint32(0, high);
  view.setUint32(4, low);
  view.setUint32(8, draw());
  view.setUint32(12, draw());
  return new RandomRoot(traceField);
}

/** 18 bytes in a slab: a span's trace id field (tag 1, length 16), the id to be written after them. */
function traceFieldBytes(): Uint8Array {
  const traceField = slabBytes(18);
  traceField[0] = 0x0a;
  traceField[1] = 16;
  return traceField;
}

class KnownRoot implements LeanRoot {
  readonly traceIdBytes: Uint8Array;
  readonly parentIdBytes: Uint8Array | undefined;
  constructor(
    readonly traceId: string,
    readonly traceField: Uint8Array,
    readonly traceState: TraceState | undefined,
    readonly parent: SpanContext | undefined,
  ) {
    this.traceIdBytes = traceField.subarray(2);
    this.parentIdBytes = parent === undefined ? undefined : hexToBytes(parent.spanId);
  }
}

/** A new trace: no trace state, no parent, its id's hex made when first asked for. */
class RandomRoot implements LeanRoot {
  private hex: string | undefined;
  constructor(readonly traceField: Uint8Array) {}
  get traceId(): string {
    if (this.hex === undefined) {
      const bytes = this.traceField;
      let hex = "";
      for (let i = 2; i < 18; i++) hex += HEX[bytes[i]!]!;
      this.hex = hex;
    }
    return this.hex;
  }
  get traceIdBytes(): Uint8Array {
    return this.traceField.subarray(2);
  }
  get traceState(): undefined {
    return undefined;
  }
  get parent(): undefined {
    return undefined;
  }
  get parentIdBytes(): undefined {
    return undefined;
  }
}

/** A random span id (16 hex digits), not all zeros. */
export function randomSpanId(): string {
  let high = draw();
  let low = draw();
  while ((high | low) === 0) {
    high = draw();
    low = draw();
  }
  return hex8(high) + hex8(low);
}

/** A random trace id (32 hex digits), not all zeros. */
export function randomTraceId(): string {
  const id = randomSpanId() + hex8(draw()) + hex8(draw());
  return id;
}

function hexToBytes(hex: string): Uint8Array {
  const bytes = slabBytes(hex.length >>> 1);
  hexInto(hex, bytes);
  return bytes;
}

/** The bytes of `hex` into `bytes`. */
function hexInto(hex: string, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = (digit(hex.charCodeAt(2 * i)) << 4) | digit(hex.charCodeAt(2 * i + 1));
}

/** The value of a hex digit's character code (lowercase or uppercase). */
function digit(code: number): number {
  return code <= 57 ? code - 48 : (code | 32) - 87;
}

/**
 * A span of the host's own (execution children: dispatches, node attempts, map items), recorded without the
 * OpenTelemetry SDK's `Span`: because the host starts one per node attempt on its scheduling path, where the SDK's
 * span (sampler call, random ids and their hex, attribute validation, a context per span) and the generic OTLP
 * encoding of its attributes cost more than an in-process node. It is always a child of a sampled SDK span (the
 * execution's, which the sampler decided) or of another lean span, carries attributes the host builds (valid by
 * construction: most of them in shared, pre-encoded {@link AttributeChunk}s), and is handed to the SDK's batch span
 * processor when it ends, as the `ReadableSpan` any exporter reads (the host's OTLP exporter encodes it with
 * {@link LeanSpan.encode}). It implements the API's `Span` too, because node code may find it as the active span
 * (`trace.getActiveSpan()`) and add to it.
 */
export class LeanSpan implements Span, Context {
  readonly kind: SpanKind;
  ended = false;
  status: SpanStatus = UNSET;
  events: { name: string; time: HrTime; attributes?: Attributes; droppedAttributesCount: number }[] = EMPTY;
  links: Link[] = EMPTY;
  private readonly idHigh: number;
  private readonly idLow: number;
  private hexId: string | undefined;
  /** When it started, in milliseconds since the epoch. */
  readonly startMs: number;
  private endMs = 0;
  /** Attributes given when it ends (see {@link endWith}), written last. */
  private last: AttributeChunk = NO_CHUNK;
  /** The host's count of a dispatch span's steps that have not ended yet (it ends with the last of them). */
  openSteps = 0;
  /**
   * The span's name as encoded (tag, length, bytes), when whoever made the span has it (the host keeps one per node
   * of a graph); else it is looked up in the encoder's cache.
   */
  nameField: Uint8Array | undefined = undefined;

  /**
   * `parent`: the lean span this one is a child of, or undefined for a child of `root`. `first`, `second` and
   * `third`: the shared attributes (an execution's, a node's, and those of the span's kind that take a few values,
   * such as an attempt's number: encoded once, copied into each span); `own`: this span's (written after them, and
   * where `setAttribute` writes). `startMs`: when it started (ms since the epoch), if not now.
   */
  constructor(
    readonly sink: LeanSpanSink,
    public name: string,
    kind: SpanKind,
    readonly root: LeanRoot,
    private readonly parent: LeanSpan | undefined,
    private first: AttributeChunk,
    private second: AttributeChunk,
    private third: AttributeChunk,
    private own: Attributes | undefined,
    startMs?: number,
  ) {
    this.kind = kind;
    let high = draw();
    let low = draw();
    while ((high | low) === 0) {
      high = draw();
      low = draw();
    }
    this.idHigh = high;
    this.idLow = low;
    this.startMs = startMs ?? epochMs();
  }

  // Constants, on the prototype rather than in each span.
  get droppedAttributesCount(): number {
    return 0;
  }
  get droppedEventsCount(): number {
    return 0;
  }
  get droppedLinksCount(): number {
    return 0;
  }
  /** W3C trace flags: sampled (a lean span is its own `SpanContext`, see {@link spanContext}). */
  get traceFlags(): number {
    return 1;
  }

  /** Every attribute, shared ones first (built on demand: only exporters other than the host's read it). */
  get attributes(): Attributes {
    return {
      ...this.first.attributes,
      ...this.second.attributes,
      ...this.third.attributes,
      ...this.own,
      ...this.last.attributes,
    };
  }
  get parentSpanContext(): SpanContext | undefined {
    return this.parent === undefined ? this.root.parent : this.parent.spanContext();
  }
  get resource(): unknown {
    return this.sink.resource;
  }
  get instrumentationScope(): unknown {
    return this.sink.instrumentationScope;
  }
  get startTime(): HrTime {
    return hrTime(this.startMs);
  }
  get endTime(): HrTime {
    return hrTime(this.endMs);
  }
  get duration(): HrTime {
    const ms = Math.max(0, this.endMs - this.startMs);
    const seconds = Math.floor(ms / 1000);
    return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
  }

  // A lean span is also the context that holds it as the active span and nothing else, so that making a node's
  // context costs no context object (and its map) per node; anything set on it makes a real context.
  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this : undefined;
  }
  setValue(key: symbol, value: unknown): Context {
    return ROOT_CONTEXT.setValue(SPAN_KEY, this).setValue(key, value);
  }
  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : this;
  }

  /** The W3C traceparent of this span. */
  get traceparent(): string {
    return `00-${this.root.traceId}-${this.spanId}-01`;
  }

  /**
   * The span's `SpanContext` is the span itself (its `traceId`, `spanId` and `traceFlags`), because the batch
   * processor asks every span for it when the span ends: an object and the id's hex per span otherwise.
   */
  spanContext(): SpanContext {
    // (Its `traceState` is undefined when the trace has none, which the optional property allows at run time.)
    return this as unknown as SpanContext;
  }
  get traceId(): string {
    return this.root.traceId;
  }
  get traceState(): TraceState | undefined {
    return this.root.traceState;
  }
  get spanId(): string {
    this.hexId ??= hex8(this.idHigh) + hex8(this.idLow);
    return this.hexId;
  }
  setAttribute(key: string, value: AttributeValue): this {
    if (this.ended || value === undefined || value === null) return this;
    if (key in this.first.attributes || key in this.second.attributes || key in this.third.attributes) {
      // A shared attribute changes for this span alone: this span stops sharing them.
      this.own = {
        ...this.first.attributes,
        ...this.second.attributes,
        ...this.third.attributes,
        ...this.own,
      };
      this.first = NO_CHUNK;
      this.second = NO_CHUNK;
      this.third = NO_CHUNK;
    }
    this.own ??= {};
    this.own[key] = value;
    return this;
  }

  /**
   * Ends the span with the attributes of `chunk` set (the host's: a node's status), shared rather than set one by
   * one when nothing set this span's own attributes.
   */
  endWith(chunk: AttributeChunk): void {
    if (this.ended) return;
    if (this.own === undefined) this.last = chunk;
    else this.setAttributes(chunk.attributes);
    this.end();
  }
  setAttributes(attributes: Attributes): this {
    for (const [key, value] of Object.entries(attributes))
      if (value !== undefined) this.setAttribute(key, value);
    return this;
  }
  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const timed =
      attributesOrTime === undefined ||
      typeof attributesOrTime === "number" ||
      attributesOrTime instanceof Date ||
      Array.isArray(attributesOrTime);
    const event = {
      name,
      time: hrTime(msOf(timed ? (attributesOrTime as TimeInput | undefined) : time)),
      ...(timed ? {} : { attributes: attributesOrTime as Attributes }),
      droppedAttributesCount: 0,
    };
    if (this.events === EMPTY) this.events = [event];
    else this.events.push(event);
    return this;
  }
  addLink(link: Link): this {
    if (this.links === EMPTY) this.links = [link];
    else this.links.push(link);
    return this;
  }
  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }
  setStatus(status: SpanStatus): this {
    if (!this.ended) this.status = status;
    return this;
  }
  updateName(name: string): this {
    if (this.ended) return this;
    this.name = name;
    this.nameField = undefined;
    return this;
  }
  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.endMs = endTime === undefined ? epochMs() : msOf(endTime);
    this.sink.ended(this);
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes =
      typeof exception === "string"
        ? { "exception.message": exception }
        : {
            ...(exception.name === undefined ? {} : { "exception.type": exception.name }),
            ...(exception.message === undefined ? {} : { "exception.message": exception.message }),
            ...(exception.stack === undefined ? {} : { "exception.stacktrace": exception.stack }),
          };
    this.addEvent("exception", attributes, time);
  }

  /**
   * Writes this span as an OTLP `Span` message (its tag and length included), field for field as OpenTelemetry's
   * serializer writes a `ReadableSpan`, with the shared attributes copied as they were encoded. The fixed part (ids,
   * name, kind, times, shared attributes) is written in place after one check of room, and the message's length in
   * two bytes reserved ahead (a span of the host has 128 to 16,383 bytes; others are moved), because a span is
   * encoded per node attempt and a call per field was most of its cost.
   */
  encode(writer: OtlpWriter): void {
    const root = this.root;
    const first = this.first.encoded;
    const second = this.second.encoded;
    const third = this.third.encoded;
    const last = this.last.encoded;
    const name = this.nameField ?? stringField(5, this.name);
    writer.ensure(96 + name.length + first.length + second.length + third.length + last.length);
    let buffer = writer.buffer;
    let view = writer.view;
    let pos = writer.pos;
    buffer[pos] = 0x12; // ScopeSpans.spans (2), length-delimited
    const at = pos + 1;
    pos += 3;
    buffer.set(root.traceField, pos);
    pos += 18;
    buffer[pos] = 0x12; // span_id (2): 8 bytes
    buffer[pos + 1] = 8;
    view.setUint32(pos + 2, this.idHigh);
    view.setUint32(pos + 6, this.idLow);
    pos += 10;
    const traceState = root.traceState?.serialize();
    if (traceState) {
      writer.pos = pos;
      writer.tag(3, 2);
      writer.string(traceState);
      writer.ensure(80 + name.length + first.length + second.length + third.length + last.length);
      buffer = writer.buffer;
      view = writer.view;
      pos = writer.pos;
    }
    const parent = this.parent;
    if (parent !== undefined) {
      buffer[pos] = 0x22; // parent_span_id (4): 8 bytes
      buffer[pos + 1] = 8;
      view.setUint32(pos + 2, parent.idHigh);
      view.setUint32(pos + 6, parent.idLow);
      pos += 10;
    } else if (root.parentIdBytes !== undefined) {
      buffer[pos] = 0x22;
      buffer[pos + 1] = 8;
      buffer.set(root.parentIdBytes, pos + 2);
      pos += 10;
    }
    buffer.set(name, pos);
    pos += name.length;
    if (this.kind + 1 !== 0) {
      buffer[pos++] = 0x30; // kind (6)
      buffer[pos++] = this.kind + 1;
    }
    buffer[pos] = 0x39; // start_time_unix_nano (7), fixed64
    writer.epochMsAt(pos + 1, this.startMs);
    buffer[pos + 9] = 0x41; // end_time_unix_nano (8), fixed64
    writer.epochMsAt(pos + 10, this.endMs);
    pos += 18;
    buffer.set(first, pos);
    pos += first.length;
    buffer.set(second, pos);
    pos += second.length;
    buffer.set(third, pos);
    pos += third.length;
    if (this.own !== undefined) {
      writer.pos = pos;
      writer.attributes(this.own, 9);
      writer.ensure(32 + last.length);
      buffer = writer.buffer;
      pos = writer.pos;
    }
    buffer.set(last, pos);
    pos += last.length;
    buffer[pos++] = 0x50; // dropped_attributes_count (10): 0
    buffer[pos++] = 0;
    const status = this.status;
    if (this.events.length === 0 && this.links.length === 0 && !status.message) {
      // The usual end, in place: no events (12: 0 dropped), no links (14: 0 dropped), a status of its code alone
      // (15), and the flags (16, fixed32).
      buffer[pos] = 0x60;
      buffer[pos + 1] = 0;
      buffer[pos + 2] = 0x70;
      buffer[pos + 3] = 0;
      buffer[pos + 4] = 0x7a;
      buffer[pos + 5] = 2;
      buffer[pos + 6] = 0x18;
      buffer[pos + 7] = status.code;
      buffer[pos + 8] = 0x85;
      buffer[pos + 9] = 0x01;
      writer.view.setUint32(pos + 10, this.flags(), true);
      writer.pos = pos + 14;
    } else {
      writer.pos = pos;
      this.encodeRest(writer);
    }
    // The length, in the two bytes reserved for it (moving the message when it needs one or three).
    const length = writer.pos - at - 2;
    const bytes = writer.buffer;
    if (length >= 128 && length < 16384) {
      bytes[at] = (length & 127) | 128;
      bytes[at + 1] = length >>> 7;
    } else {
      // `end` writes a length of one byte at `at` and moves what follows when it needs more: here the message
      // starts one byte later than it expects, so move it back first.
      bytes.copyWithin(at + 1, at + 2, writer.pos);
      writer.pos--;
      writer.end(at);
    }
  }

  /** Flags: sampled, "whether the parent is remote is known", and whether it is (the execution's incoming parent). */
  private flags(): number {
    return this.parent === undefined && this.root.parent?.isRemote === true ? 0x301 : 0x101;
  }

  /** The fields of {@link encode} from the events on, when there are events, links or a status message. */
  private encodeRest(writer: OtlpWriter): void {
    for (const event of this.events) {
      writer.tag(11, 2);
      const eventAt = writer.begin();
      writer.tag(1, 1);
      writer.hrTime(event.time);
      writer.tag(2, 2);
      writer.string(event.name);
      if (event.attributes !== undefined) writer.attributes(event.attributes, 3);
      writer.tag(4, 0);
      writer.varint(event.droppedAttributesCount);
      writer.end(eventAt);
    }
    writer.tag(12, 0);
    writer.varint(0);
    for (const link of this.links) {
      writer.tag(13, 2);
      const linkAt = writer.begin();
      writer.tag(1, 2);
      writer.hexBytes(link.context.traceId);
      writer.tag(2, 2);
      writer.hexBytes(link.context.spanId);
      const traceState = link.context.traceState?.serialize();
      if (traceState) {
        writer.tag(3, 2);
        writer.string(traceState);
      }
      if (link.attributes !== undefined) writer.attributes(link.attributes, 4);
      writer.tag(5, 0);
      writer.varint(link.droppedAttributesCount ?? 0);
      writer.tag(6, 5);
      writer.fixed32((link.context.traceFlags & 255) | 0x100 | (link.context.isRemote === true ? 0x200 : 0));
      writer.end(linkAt);
    }
    writer.tag(14, 0);
    writer.varint(0);
    writer.tag(15, 2);
    const statusAt = writer.begin();
    if (this.status.message) {
      writer.tag(2, 2);
      writer.string(this.status.message);
    }
    writer.tag(3, 0);
    writer.varint(this.status.code);
    writer.end(statusAt);
    writer.tag(16, 5);
    writer.fixed32(this.flags());
  }
}
