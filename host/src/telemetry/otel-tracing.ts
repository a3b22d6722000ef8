import type { FailureInfo, StepRequest } from "@conductor/sdk/protocol";
import { installNodeTracing } from "@conductor/sdk/telemetry";
import {
  type Attributes,
  type Context,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Sampler,
  SamplingDecision,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { GraphNode } from "../blueprint/blueprint-graph.js";
import type { ExecutionStatus } from "../scheduler/execution-events.js";
import type { ExecutionTrace, ExecutionTraceStart, Tracing } from "./execution-trace.js";
import {
  type AttributeChunk,
  attributeChunk,
  epochMs,
  type LeanRoot,
  LeanSpan,
  type LeanSpanSink,
  leanRoot,
  NO_CHUNK,
  randomLeanRoot,
  randomSpanId,
  randomTraceId,
} from "./lean-span.js";
import { createLeanOtlpExporter } from "./lean-span-encoder.js";
import { stringField } from "./otlp-span-writer.js";

/**
 * The OpenTelemetry implementation of {@link Tracing}; imported only when tracing is on (see `tracing.ts`).
 * Span tree: `execution {blueprint}` (SERVER when an API request started it) → `dispatch {runtime}` (CLIENT, one
 * per invocation sent to a runtime) → `node {id}` (one per attempt); plus a zero-duration `execution.started`
 * child, exported at once, so that a running execution can be found before its own span ends. Every span carries
 * `conductor.execution.id` and `conductor.blueprint.id`. Every one is a {@link LeanSpan} handed to the SDK's batch
 * processor (the SDK's sampler decides the execution's), with shared attributes encoded once and no context
 * switching on the scheduler's path, because tracing must cost little on
 * the in-process hot path (bench/src/scenarios/tracing.ts). In-process nodes get no dispatch span: nothing is sent.
 */
export async function createOtelTracing(options: { exporter?: unknown } = {}): Promise<Tracing> {
  const node = await installNodeTracing({
    serviceName: "conductor",
    // A dozen spans per in-process execution of ten nodes: room for some 1,300 executions while an export is under
    // way. Batches of 4096 (about 1.5 MB of OTLP), because each request costs the host a fixed part (an HTTP request
    // and its answer, a timer, promises) that batches of 1024 made a tenth of tracing's CPU in-process; a flush of
    // a full queue is four exports.
    maxQueueSize: 16384,
    maxExportBatchSize: 4096,
    exporter: options.exporter ?? createLeanOtlpExporter(),
  });
  const tracer = node.tracer;
  const resource = node.resource;
  const instrumentationScope = (tracer as unknown as { instrumentationScope: unknown }).instrumentationScope;
  // The host's spans go to the SDK's batch processor when they end, as `ReadableSpan`s, and are exported with the
  // SDK's resource and this tracer's scope, as the SDK's own spans are. (A batch of their own, each span encoded
  // after the turn it ended in rather than kept until its batch's export, was measured and left out: see
  // docs/telemetry.md, "What it costs".)
  const processor = node.spanProcessor;
  const sampling: RootSampling = { sampler: node.sampler, everyRoot: node.samplesEveryRoot };
  const sink: LeanSpanSink = { resource, instrumentationScope, ended: (span) => processor.onEnd(span) };
  // The attributes of a node that every span of it carries, encoded once per node of a graph, and its spans' name.
  const nodeSpans = new WeakMap<GraphNode, NodeSpans>();
  const nodeChunk = (node: GraphNode): NodeSpans => {
    let spans = nodeSpans.get(node);
    if (spans === undefined) {
      const name = `node ${node.id}`;
      spans = {
        name,
        nameField: stringField(5, name),
        chunk: attributeChunk({
          "conductor.node.id": node.id,
          "conductor.node.type": node.type,
          "conductor.node.type_version": node.nodeType.version,
          "conductor.runtime": node.runtime,
        }),
      };
      nodeSpans.set(node, spans);
    }
    return spans;
  };
  return {
    startExecution: (start) => new OtelExecutionTrace(sampling, sink, nodeChunk, start),
    flush: () => node.flush(),
    shutdown: () => node.shutdown(),
  };
}

const propagator = new W3CTraceContextPropagator();
const traceparentGetter = {
  keys: () => ["traceparent"],
  get: (carrier: string, key: string) => (key === "traceparent" ? carrier : undefined),
};

/** Parses a W3C traceparent into a context holding it as the remote parent; ROOT_CONTEXT when it is not valid. */
export function contextOf(traceparent: string | undefined): Context {
  if (traceparent === undefined || traceparent === "") return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, traceparent, traceparentGetter);
}

const ignoreEnd = () => {};

// The attributes of the host's spans that take a few values, as shared chunks (encoded once, copied into each span).
const attemptChunks: AttributeChunk[] = [];
/** `conductor.node.attempt` and `conductor.cache.hit: false`: an attempt span's own attributes. */
function attemptChunk(attempt: number): AttributeChunk {
  if (attempt >= 64)
    return attributeChunk({ "conductor.node.attempt": attempt, "conductor.cache.hit": false });
  let chunk = attemptChunks[attempt];
  if (chunk === undefined) {
    chunk = attributeChunk({ "conductor.node.attempt": attempt, "conductor.cache.hit": false });
    attemptChunks[attempt] = chunk;
  }
  return chunk;
}
/** Chunks of `{key: status}` by key and status, for the few statuses (literals: their hash is kept). */
const statusChunks = new Map<string, Map<string, AttributeChunk>>();
/** `{key: status}` (a node's or an execution's status, set when its span ends). */
function statusChunk(key: string, status: string): AttributeChunk {
  let byStatus = statusChunks.get(key);
  if (byStatus === undefined) {
    byStatus = new Map();
    statusChunks.set(key, byStatus);
  }
  let chunk = byStatus.get(status);
  if (chunk === undefined) {
    chunk = attributeChunk({ [key]: status });
    byStatus.set(status, chunk);
  }
  return chunk;
}
/** The name of an execution's span by blueprint id, made and encoded once (for the first 1,024 blueprints). */
const executionNames = new Map<string, { name: string; nameField: Uint8Array }>();
function executionSpanName(blueprintId: string): { name: string; nameField: Uint8Array } {
  let names = executionNames.get(blueprintId);
  if (names === undefined) {
    const name = `execution ${blueprintId}`;
    names = { name, nameField: stringField(5, name) };
    if (executionNames.size < 1024) executionNames.set(blueprintId, names);
  }
  return names;
}

/** What the dispatch spans to a runtime with a number of steps share: their name and attributes, made once. */
const dispatchSpansOf = new Map<string, NodeSpans[]>();
function dispatchSpans(runtime: string, steps: number): NodeSpans {
  let byCount = dispatchSpansOf.get(runtime);
  if (byCount === undefined) {
    byCount = [];
    dispatchSpansOf.set(runtime, byCount);
  }
  let spans = byCount[steps];
  if (spans === undefined) {
    const name = `dispatch ${runtime}`;
    spans = {
      name,
      nameField: stringField(5, name),
      chunk: attributeChunk({ "conductor.runtime": runtime, "conductor.dispatch.steps": steps }),
    };
    // A chain of more steps than a few dozen is rare: its spans are made each time rather than kept.
    if (steps <= 64) byCount[steps] = spans;
  }
  return spans;
}
const CACHE_HIT = attributeChunk({ "conductor.cache.hit": true });
const MAP_ATTEMPT = attributeChunk({ "conductor.node.attempt": 1, "conductor.node.map": true });
const RESUMED = attributeChunk({ "conductor.execution.resumed": true });
const NOT_RESUMED = attributeChunk({ "conductor.execution.resumed": false });

/** The sampler, and whether it records every execution that has no parent whatever it is given. */
interface RootSampling {
  readonly sampler: Sampler;
  readonly everyRoot: boolean;
}

/** What the spans of one node of a graph share. */
interface NodeSpans {
  readonly name: string;
  /** The name as an encoded span field. */
  readonly nameField: Uint8Array;
  readonly chunk: AttributeChunk;
}

class OtelExecutionTrace implements ExecutionTrace {
  /** The W3C traceparent of an unsampled execution (a sampled one's is its span's, formatted when asked for). */
  private readonly unsampled: string | undefined;
  /**
   * Whether the execution's span is sampled. When it is not (a sampler, or an incoming traceparent that is not
   * sampled), no span of this execution would be exported: its nodes get no spans, attributes are not built, and
   * steps carry the execution's context, so that the runtimes' spans are not sampled either.
   */
  private readonly recording: boolean;
  /** The execution's span, when it is recorded. */
  private readonly root: LeanSpan | undefined;
  private readonly rootContext: Context;
  private readonly sink: LeanSpanSink;
  /** The execution's attributes, which every span of it carries. */
  private readonly common: AttributeChunk = NO_CHUNK;
  private readonly attempts: (LeanSpan | undefined)[];
  /** The dispatch span of each node's unit, ended with the unit's last step (see `LeanSpan.openSteps`). */
  private readonly dispatches: (LeanSpan | undefined)[];

  /**
   * The execution's span is a lean span too, but the SDK's sampler decides whether it is recorded, with what the
   * SDK's tracer would give it (its parent's context, trace id, name, kind, attributes and links), because the
   * SDK's span start cost 9-12 µs per execution (attribute cleaning, ids, its own self-metrics).
   */
  constructor(
    sampling: RootSampling,
    sink: LeanSpanSink,
    private readonly nodeSpans: (node: GraphNode) => NodeSpans,
    start: ExecutionTraceStart,
  ) {
    this.sink = sink;
    const names = executionSpanName(start.blueprintId);
    const name = names.name;
    this.common = attributeChunk({
      "conductor.execution.id": start.executionId,
      "conductor.blueprint.id": start.blueprintId,
    });
    this.attempts = new Array(start.nodeCount).fill(undefined);
    this.dispatches = new Array(start.nodeCount).fill(undefined);
    const kind = start.trigger === "api" ? SpanKind.SERVER : SpanKind.INTERNAL;
    let traceRoot: LeanRoot;
    const links: Link[] = [];
    if (
      sampling.everyRoot &&
      (start.parent === undefined || start.parent === "") &&
      start.resumedFrom === undefined
    ) {
      // A new trace that the sampler records whatever it is given (always_on, or parentbased_always_on without a
      // parent: the default): the sampler's answer is known, so it is not asked, and the trace id is drawn as bytes.
      this.recording = true;
      traceRoot = randomLeanRoot();
    } else {
      if (start.resumedFrom !== undefined) {
        const earlier = trace.getSpanContext(contextOf(start.resumedFrom));
        if (earlier !== undefined)
          links.push({ context: earlier, attributes: { "conductor.link": "resumed-from" } });
      }
      const parentContext = contextOf(start.parent);
      const incoming = trace.getSpanContext(parentContext);
      const parent = incoming !== undefined && isSpanContextValid(incoming) ? incoming : undefined;
      const traceId = parent?.traceId ?? randomTraceId();
      const sampled = sampling.sampler.shouldSample(
        parentContext,
        traceId,
        name,
        kind,
        {
          "conductor.execution.id": start.executionId,
          "conductor.blueprint.id": start.blueprintId,
          "conductor.execution.resumed": start.resumedFrom !== undefined,
        },
        links,
      );
      const traceState = sampled.traceState ?? parent?.traceState;
      this.recording = sampled.decision === SamplingDecision.RECORD_AND_SAMPLED;
      if (!this.recording) {
        // Not sampled: no span at all; steps carry this unsampled context, so that runtimes record nothing either.
        const spanId = randomSpanId();
        this.unsampled = `00-${traceId}-${spanId}-00`;
        this.rootContext = trace.setSpanContext(ROOT_CONTEXT, {
          traceId,
          spanId,
          traceFlags: 0,
          ...(traceState === undefined ? {} : { traceState }),
        });
        this.root = undefined;
        return;
      }
      traceRoot = leanRoot(traceId, traceState, parent);
    }
    const root = new LeanSpan(
      sink,
      name,
      kind,
      traceRoot,
      undefined,
      this.common,
      NO_CHUNK,
      start.resumedFrom === undefined ? NOT_RESUMED : RESUMED,
      undefined,
    );
    if (links.length > 0) root.addLinks(links);
    root.nameField = names.nameField;
    this.root = root;
    this.rootContext = root;
    this.unsampled = undefined;
    // Zero-length, at the execution span's start (its time taken from that span rather than the clock again).
    const at = root.startMs;
    new LeanSpan(
      sink,
      "execution.started",
      SpanKind.INTERNAL,
      root.root,
      root,
      this.common,
      NO_CHUNK,
      NO_CHUNK,
      undefined,
      at,
    ).end(at);
  }

  get traceparent(): string {
    return this.unsampled ?? this.root!.traceparent;
  }

  private span(
    name: string,
    kind: SpanKind,
    parent: LeanSpan | undefined,
    shared: AttributeChunk,
    third: AttributeChunk,
    own: Attributes | undefined,
    startMs?: number,
  ): LeanSpan {
    const root = this.root!;
    return new LeanSpan(
      this.sink,
      name,
      kind,
      root.root,
      parent ?? root,
      this.common,
      shared,
      third,
      own,
      startMs,
    );
  }

  dispatch(
    runtime: string,
    nodes: readonly GraphNode[],
    unit: readonly number[],
    steps: StepRequest[],
    inProcess: boolean,
  ): void {
    if (!this.recording) {
      for (const step of steps) {
        step.traceparent = this.traceparent;
        step.traceContext = this.rootContext;
      }
      return;
    }
    // The unit's spans start together, when its steps are handed to the runtime: one clock read for all of them.
    const now = epochMs();
    // In-process nodes are not sent anywhere: their attempt spans are the execution's children.
    let dispatch: LeanSpan | undefined;
    if (!inProcess) {
      const spans = dispatchSpans(runtime, steps.length);
      dispatch = this.span(spans.name, SpanKind.CLIENT, undefined, NO_CHUNK, spans.chunk, undefined, now);
      dispatch.nameField = spans.nameField;
      dispatch.openSteps = steps.length;
    }
    for (let i = 0; i < steps.length; i++) {
      const node = nodes[unit[i]!]!;
      const step = steps[i]!;
      const spans = this.nodeSpans(node);
      const span = this.span(
        spans.name,
        SpanKind.INTERNAL,
        dispatch,
        spans.chunk,
        attemptChunk(step.attempt),
        undefined,
        now,
      );
      span.nameField = spans.nameField;
      this.attempts[node.index] = span;
      this.dispatches[node.index] = dispatch;
      // The span is its own context; an in-process step needs no traceparent (nothing is sent), so none is formatted.
      if (!inProcess) step.traceparent = span.traceparent;
      step.traceContext = span;
    }
  }

  mapStarted(node: GraphNode): void {
    if (!this.recording) return;
    this.attempts[node.index] = this.span(
      this.nodeSpans(node).name,
      SpanKind.INTERNAL,
      undefined,
      this.nodeSpans(node).chunk,
      MAP_ATTEMPT,
      undefined,
    );
  }

  mapItem(
    node: GraphNode,
    item: number,
    step: StepRequest,
  ): (status: "completed" | "failed" | "cancelled", failure?: FailureInfo) => void {
    if (!this.recording) {
      step.traceparent = this.traceparent;
      step.traceContext = this.rootContext;
      return ignoreEnd;
    }
    const span = this.span(
      `item ${node.id}[${item}]`,
      SpanKind.INTERNAL,
      this.attempts[node.index],
      this.nodeSpans(node).chunk,
      NO_CHUNK,
      { "conductor.map.item": item, "conductor.node.attempt": step.attempt },
    );
    step.traceparent = span.traceparent;
    step.traceContext = span;
    return (status, failure) => {
      span.setAttribute("conductor.node.status", status);
      if (failure !== undefined) {
        span.setAttribute("error.type", failure.type);
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      } else if (status === "cancelled") span.setStatus({ code: SpanStatusCode.ERROR, message: "cancelled" });
      span.end();
    };
  }

  attemptTraceparent(index: number): string | undefined {
    return this.attempts[index]?.traceparent;
  }

  started(_index: number): void {
    // Because an event per node costs an allocation on the hot path, the start is not recorded: the dispatch span
    // starts when the step is sent, the node span when the runtime is handed it.
  }

  completed(index: number): void {
    this.end(index, "completed");
  }

  failed(index: number, failure: FailureInfo, retryInMs: number | undefined): void {
    const span = this.attempts[index];
    if (span === undefined) return;
    if (failure.type === "timeout" || failure.type === "heartbeat.timeout")
      span.addEvent("timeout", { "conductor.failure.type": failure.type });
    if (retryInMs !== undefined) span.addEvent("retry", { "conductor.retry.delay_ms": retryInMs });
    span.setAttribute("error.type", failure.type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    this.end(index, "failed");
  }

  cancelled(index: number, reason: string): void {
    const span = this.attempts[index];
    if (span === undefined) return;
    span.addEvent("cancelled", { "conductor.cancel.reason": reason });
    span.setStatus({ code: SpanStatusCode.ERROR, message: `cancelled: ${reason}` });
    this.end(index, "cancelled");
  }

  abandoned(index: number): void {
    this.attempts[index]?.setAttribute("conductor.node.ran", false);
    this.end(index, "abandoned");
  }

  cached(node: GraphNode): void {
    if (!this.recording) return;
    const spans = this.nodeSpans(node);
    this.span(spans.name, SpanKind.INTERNAL, undefined, spans.chunk, CACHE_HIT, undefined).end();
  }

  finished(status: ExecutionStatus, failure: FailureInfo | undefined): void {
    for (let index = 0; index < this.attempts.length; index++) {
      if (this.attempts[index] !== undefined) this.end(index, "unfinished");
    }
    const root = this.root;
    if (root === undefined) return;
    if (status !== "completed")
      root.setStatus({ code: SpanStatusCode.ERROR, message: failure?.message ?? status });
    root.endWith(statusChunk("conductor.execution.status", status));
  }

  private end(index: number, status: string): void {
    const span = this.attempts[index];
    if (span === undefined) return;
    this.attempts[index] = undefined;
    span.endWith(statusChunk("conductor.node.status", status));
    const dispatch = this.dispatches[index];
    this.dispatches[index] = undefined;
    if (dispatch === undefined) return;
    if (--dispatch.openSteps <= 0) dispatch.end();
  }
}
