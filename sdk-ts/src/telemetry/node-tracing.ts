import type { Context, Tracer } from "@opentelemetry/api";
import type { Sampler } from "@opentelemetry/sdk-trace";
import { setStepTraceRunner } from "./step-trace.js";

/** Options of {@link installNodeTracing}. */
export interface NodeTracingOptions {
  /** `service.name` of the spans, unless `OTEL_SERVICE_NAME` names one. */
  serviceName: string;
  /** Where spans go instead of OTLP (tests): an OpenTelemetry `SpanExporter`. */
  exporter?: unknown;
  /**
   * How many ended spans may wait for export before new ones are dropped, unless `OTEL_BSP_MAX_QUEUE_SIZE` says
   * (the SDK's default is 2048). The host makes a dozen spans per in-process execution of ten nodes, tens of
   * thousands per second: 2048 is a few milliseconds of them, less than an export may take on a busy machine.
   */
  maxQueueSize?: number;
  /** Spans per export, unless `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` says (the SDK's default is 512). */
  maxExportBatchSize?: number;
}

/** The OpenTelemetry SDK this process installed. */
export interface NodeTracing {
  readonly tracer: Tracer;
  /**
   * The batch span processor spans go through: a host that records its own spans without the SDK's `Span` (for
   * their cost on its hot path) hands them here when they end, as OpenTelemetry `ReadableSpan`s.
   */
  readonly spanProcessor: { onEnd(span: unknown): void };
  /** The sampler the tracer provider uses (the OTEL_TRACES_SAMPLER one): a host making spans of its own asks it. */
  readonly sampler: Sampler;
  /**
   * Whether {@link sampler} records every span that has no parent, whatever else it is given (`always_on`, or
   * `parentbased_always_on`, the default): a host starting a trace without a parent then need not ask it.
   */
  readonly samplesEveryRoot: boolean;
  /** The resource the spans are exported with. */
  readonly resource: unknown;
  /** Exports every span that ended and is not exported yet. */
  flush(): Promise<void>;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * Installs the OpenTelemetry SDK in this process: a tracer provider exporting over OTLP/HTTP (protobuf) in batches,
 * configured by the standard `OTEL_*` environment; the W3C trace-context propagator; an AsyncLocalStorage context
 * manager; and the step trace runner that makes each step's traceparent the parent of the spans its node creates.
 * Every OpenTelemetry package is imported here, dynamically, because: a process without tracing must not pay for
 * loading them (call this only when {@link otlpTracesConfigured} is true, or when the caller asks for tracing).
 */
export async function installNodeTracing(options: NodeTracingOptions): Promise<NodeTracing> {
  const [api, core, sdk, resources, exporter, contextHooks] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/core"),
    import("@opentelemetry/sdk-trace"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/exporter-trace-otlp-proto"),
    import("@opentelemetry/context-async-hooks"),
  ]);
  const serviceName = process.env.OTEL_SERVICE_NAME?.trim() || options.serviceName;
  const spanProcessor = new sdk.BatchSpanProcessor({
    exporter:
      (options.exporter as ConstructorParameters<typeof sdk.BatchSpanProcessor>[0]["exporter"] | undefined) ??
      new exporter.OTLPTraceExporter(),
    ...batchFromEnvironment(options),
  });
  const { sampler, everyRoot } = samplerFromEnvironment(sdk);
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ "service.name": serviceName }));
  const provider = new sdk.TracerProvider({
    sampler,
    resource,
    // Because spans must be visible while an execution runs, they are exported as they end, in batches (the batch
    // processor's delay and size follow OTEL_BSP_*), never held until the execution ends.
    spanProcessors: [spanProcessor],
  });
  // An AsyncLocalStorage context manager, with a slot for the context of the synchronous node code running now: a
  // node whose code has only ever returned values runs with its step's context in the slot instead of in a frame of
  // its own (docs/telemetry.md, "What it costs").
  class StepContextManager extends contextHooks.AsyncLocalStorageContextManager {
    private slot: Context | undefined;
    override active(): Context {
      return this.slot ?? super.active();
    }
    override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
      context: Context,
      fn: F,
      thisArg?: ThisParameterType<F>,
      ...args: A
    ): ReturnType<F> {
      const slot = this.slot;
      this.slot = undefined;
      try {
        return super.with(context, fn, thisArg, ...args);
      } finally {
        this.slot = slot;
      }
    }
    runSynchronous<T>(context: Context, run: () => T): T {
      const slot = this.slot;
      this.slot = context;
      try {
        return run();
      } finally {
        this.slot = slot;
      }
    }
  }
  const contextManager = new StepContextManager();
  api.context.setGlobalContextManager(contextManager.enable());
  api.propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer("conductor");
  const propagator = new core.W3CTraceContextPropagator();
  const getter = {
    keys: (carrier: StepParent) =>
      carrier.tracestate === undefined ? ["traceparent"] : ["traceparent", "tracestate"],
    get: (carrier: StepParent, key: string) =>
      key === "traceparent" ? carrier.traceparent : carrier.tracestate,
  };
  /**
   * The context a step's traceparent names, read (parsed, checked, made into a remote span's context) only when
   * something asks it for a value: the node's code making a span, or asking for the active one. Because most
   * steps make no span, and the parse and its objects were most of what a traced step cost the runtime process.
   */
  class StepParent implements Context {
    private read: Context | undefined;
    constructor(
      readonly traceparent: string | undefined,
      readonly tracestate: string | undefined,
    ) {}
    private context(): Context {
      this.read ??= propagator.extract(api.ROOT_CONTEXT, this, getter);
      return this.read;
    }
    getValue(key: symbol): unknown {
      return this.context().getValue(key);
    }
    setValue(key: symbol, value: unknown): Context {
      return this.context().setValue(key, value);
    }
    deleteValue(key: symbol): Context {
      return this.context().deleteValue(key);
    }
  }
  // The step's context is current while its node's code runs, so spans the code makes are children of the host's
  // span of the node attempt. The runtime makes no span of its own per step: the host's attempt span already shows
  // the step, and a span per step (made, encoded and exported by every runtime process) cost more than the step.
  setStepTraceRunner((step, _executionId, run, synchronous) => {
    const context =
      (step.traceContext as Context | undefined) ?? new StepParent(step.traceparent, step.tracestate);
    return synchronous ? contextManager.runSynchronous(context, run) : api.context.with(context, run);
  });
  return {
    tracer,
    sampler,
    samplesEveryRoot: everyRoot,
    resource,
    spanProcessor: spanProcessor as unknown as NodeTracing["spanProcessor"],
    flush: () => provider.forceFlush(),
    async shutdown() {
      setStepTraceRunner(undefined);
      await provider.shutdown();
    },
  };
}

/**
 * The sampler that the standard `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG`, the ratio) names:
 * `always_on`, `always_off`, `traceidratio`, `parentbased_always_on` (the default), `parentbased_always_off`,
 * `parentbased_traceidratio`. Because this SDK no longer reads the environment itself, and sampling is what makes
 * tracing cheap when every execution need not be traced.
 */
function samplerFromEnvironment(sdk: typeof import("@opentelemetry/sdk-trace")): {
  sampler: Sampler;
  everyRoot: boolean;
} {
  const name = (process.env.OTEL_TRACES_SAMPLER ?? "").trim().toLowerCase();
  const argument = Number.parseFloat(process.env.OTEL_TRACES_SAMPLER_ARG ?? "");
  const ratio = Number.isFinite(argument) && argument >= 0 && argument <= 1 ? argument : 1;
  const parentBased = (root: Sampler) => ({
    sampler: new sdk.ParentBasedSampler({ root }),
    everyRoot: false,
  });
  switch (name) {
    case "always_on":
      return { sampler: new sdk.AlwaysOnSampler(), everyRoot: true };
    case "always_off":
      return { sampler: new sdk.AlwaysOffSampler(), everyRoot: false };
    case "traceidratio":
      return { sampler: new sdk.TraceIdRatioBasedSampler(ratio), everyRoot: false };
    case "parentbased_always_off":
      return parentBased(new sdk.AlwaysOffSampler());
    case "parentbased_traceidratio":
      return parentBased(new sdk.TraceIdRatioBasedSampler(ratio));
    default:
      // Without a parent, a parent-based sampler asks its root one: always on.
      return { sampler: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }), everyRoot: true };
  }
}

/**
 * The batch span processor's settings from the standard variables, where they are set: `OTEL_BSP_SCHEDULE_DELAY`
 * (milliseconds between batches), `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_MAX_QUEUE_SIZE` (else
 * `maxQueueSize`), `OTEL_BSP_EXPORT_TIMEOUT` (milliseconds); else the caller's defaults.
 */
function batchFromEnvironment(defaults: { maxQueueSize?: number; maxExportBatchSize?: number }): {
  scheduledDelayMillis?: number;
  maxExportBatchSize?: number;
  maxQueueSize?: number;
  exportTimeoutMillis?: number;
} {
  const read = (name: string, least: number) => {
    const value = Number.parseInt(process.env[name] ?? "", 10);
    return Number.isInteger(value) && value >= least ? value : undefined;
  };
  const delay = read("OTEL_BSP_SCHEDULE_DELAY", 0);
  const batch = read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1) ?? defaults.maxExportBatchSize;
  const queue = read("OTEL_BSP_MAX_QUEUE_SIZE", 1) ?? defaults.maxQueueSize;
  const timeout = read("OTEL_BSP_EXPORT_TIMEOUT", 1);
  return {
    ...(delay === undefined ? {} : { scheduledDelayMillis: delay }),
    ...(batch === undefined ? {} : { maxExportBatchSize: batch }),
    ...(queue === undefined ? {} : { maxQueueSize: queue }),
    ...(timeout === undefined ? {} : { exportTimeoutMillis: timeout }),
  };
}
