import { randomBytes } from "node:crypto";
import type {
  Attributes,
  AttributeValue,
  Exception,
  HrTime,
  Link,
  Span,
  SpanContext,
  SpanKind,
  SpanStatus,
  TimeInput,
} from "@opentelemetry/api";

/**
 * What the spans of one process share: the resource and instrumentation scope they are exported with (taken from
 * an SDK span of the same tracer, so the exporter groups them with the SDK's own spans) and the SDK's batch span
 * processor they go to when they end.
 */
export interface LeanSpanSink {
  readonly resource: unknown;
  readonly instrumentationScope: unknown;
  readonly processor: { onEnd(span: unknown): void };
}

const EMPTY: never[] = [];
const UNSET: SpanStatus = { code: 0 };

// The wall clock at the monotonic clock's zero, as the SDK anchors its spans (Date.now() at their start), so that
// these spans and the SDK's agree; taken again at each execution's start (see resyncClock), since the two drift.
let anchor = Date.now() - performance.now();

/** Takes the wall clock's reading again (at an execution's start: the monotonic clock drifts from it). */
export function resyncClock(): void {
  anchor = Date.now() - performance.now();
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

// Span ids: a random 32-bit prefix and a 32-bit counter, so that making one costs a number's formatting rather
// than random bytes and their hex; unique within this process, and a fresh prefix is drawn when the counter wraps.
let prefix = "";
let counter = 0xffffffff;
function nextSpanId(): string {
  if (++counter > 0xffffffff) {
    counter = 1;
    prefix = randomBytes(4).toString("hex");
  }
  return prefix + counter.toString(16).padStart(8, "0");
}

/**
 * A span of the host's own (execution children: dispatches, node attempts, map items), recorded without the
 * OpenTelemetry SDK's `Span`: because the host starts one per node attempt on its scheduling path, where the SDK's
 * span (sampler call, random ids, attribute validation, a context per span) cost about as much as an in-process
 * node. It is always a child of a sampled SDK span (the execution's, which the sampler decided), carries
 * attributes the host builds (valid by construction), and is handed to the SDK's batch span processor when it
 * ends, as the `ReadableSpan` the exporter reads. It implements the API's `Span` too, because node code may find it
 * as the active span (`trace.getActiveSpan()`) and add to it.
 */
export class LeanSpan implements Span {
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  ended = false;
  status: SpanStatus = UNSET;
  events: { name: string; time: HrTime; attributes?: Attributes; droppedAttributesCount: number }[] = EMPTY;
  links: Link[] = EMPTY;
  private readonly context: SpanContext;
  private readonly startMs: number;
  private endMs = 0;

  constructor(
    private readonly sink: LeanSpanSink,
    public name: string,
    kind: SpanKind,
    parent: SpanContext,
    readonly attributes: Attributes,
  ) {
    this.kind = kind;
    this.parentSpanContext = parent;
    this.context = { traceId: parent.traceId, spanId: nextSpanId(), traceFlags: 1 };
    this.startMs = epochMs();
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

  /** The W3C traceparent of this span. */
  get traceparent(): string {
    return `00-${this.context.traceId}-${this.context.spanId}-01`;
  }

  spanContext(): SpanContext {
    return this.context;
  }
  setAttribute(key: string, value: AttributeValue): this {
    if (!this.ended && value !== undefined && value !== null) this.attributes[key] = value;
    return this;
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
    if (!this.ended) this.name = name;
    return this;
  }
  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.endMs = endTime === undefined ? epochMs() : msOf(endTime);
    this.sink.processor.onEnd(this);
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
}
