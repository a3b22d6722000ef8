import { create } from "@bufbuild/protobuf";
import { type InvocationControl, isAsyncIterable } from "@conductor/sdk";
import {
  ABI_VERSIONS,
  type BlobOptions,
  DrainRequestSchema,
  dispatchSessionResponse,
  encodeJsonValue,
  type FailureInfo,
  FEATURES,
  grpcServiceDefinition,
  HandshakeRequestSchema,
  type HandshakeResponse,
  type InvocationRequest,
  type InvocationSink,
  ListNodeTypesRequestSchema,
  type ListNodeTypesResponse,
  type NodeType,
  observeSink,
  type RuntimeDescription,
  RuntimeService,
  receiverFeatures,
  SessionRequestWriter,
  ShutdownRequestSchema,
  TOKEN_METADATA_KEY,
  ValidateConfigRequestSchema,
  type ValidateConfigResponse,
  ValueError,
} from "@conductor/sdk/protocol";
import type * as grpc from "@grpc/grpc-js";
import type { ConfigDiagnostic } from "../blueprint/validate-blueprint.js";
import { ConductorError } from "../errors.js";
import { INITIAL_CREDITS, RemoteInputFeed, RemoteOutputStream } from "../streaming/remote-stream.js";
import { ChannelReader } from "../streaming/stream-channel.js";
import { checkConfigAgainstSchema } from "./config-schema-check.js";

type Grpc = typeof import("@grpc/grpc-js");

/** grpc-js `status.UNIMPLEMENTED`, without loading grpc-js to name it. */
const GRPC_UNIMPLEMENTED = 12;

/** An invocation in flight on the session. */
interface InFlight {
  sink: InvocationSink;
  lastStep: number;
  step: number;
  nodeIds: string[];
  cancelTimer?: NodeJS.Timeout;
  tracker?: InvocationSink;
  /** The invocation's stream ports, when a step has some (docs/protocol.md §3.5). */
  streams?: InvocationStreams;
}

/**
 * The streams of one invocation on the session. A step's stream output is handed to the host (as a completed step
 * whose stream port holds a {@link RemoteOutputStream}) on its first item, or on its end if it has none, so its
 * readers start on the first item; the step's real terminal event then ends or fails the stream, and its plain
 * outputs join the ones already handed over.
 */
interface InvocationStreams {
  /** By `${step}/${port}`. */
  outputs: Map<string, RemoteOutputStream>;
  inputs: Map<string, RemoteInputFeed>;
  /** By step: the outputs object handed to the host, once the step's streams were opened. */
  opened: Map<number, Record<string, unknown>>;
}

const streamKey = (step: number, port: string) => `${step}/${port}`;

/** Options of {@link connectRuntime}. */
export interface RuntimeClientOptions {
  name: string;
  /** A grpc-js target, e.g. `unix:/tmp/cdr-x/python.sock`. */
  address: string;
  token: string;
  blobs: BlobOptions;
  maxMessageBytes: number;
  /** How long connecting and the Handshake may take. */
  connectTimeoutMs: number;
  /** How long a cancelled invocation may take to stop (sent as the Cancel's `grace_ms`). Default 2000. */
  cancelGraceMs?: number;
  /**
   * Liveness: after this long without one, an HTTP/2 PING goes to the runtime (gRPC keepalive); a runtime that
   * does not answer within `pingTimeoutMs` loses its connection, which ends the session (`onSessionLost`).
   * Default 10 s and 20 s; 0 sends none.
   */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /** Called when the session breaks (the runtime is gone, spoke garbage, or stopped answering pings). */
  onSessionLost: (reason: string) => void;
  /**
   * Called when a cancelled invocation did not stop within its grace period, before that invocation is reported
   * cancelled: the supervisor stops the runtime first, so that work sent after the report never reaches it. Gives
   * true when the runtime is being restarted (invocations waiting for a slot then wait for the new process).
   */
  onUnresponsive: (nodeId: string, graceMs: number) => boolean;
}

/**
 * How much longer than the grace it gave the runtime the host waits for a cancelled step: the runtime counts its
 * grace from when the Cancel arrives, the host from when it sent it, so the runtime's own end of the step (e.g.
 * Rust dropping the node's future) must have the time to arrive first.
 */
const GRACE_MARGIN = 0.5;

/**
 * A connection to one runtime over gRPC: the unary control calls, and one long-lived Session stream on which
 * invocations are multiplexed by id and commands leaving in the same tick share one message.
 */
export class RuntimeClient {
  private readonly client: grpc.Client;
  private readonly metadata: grpc.Metadata;
  private session: grpc.ClientDuplexStream<Uint8Array, Uint8Array> | undefined;
  private readonly inFlight = new Map<number, InFlight>();
  private readonly waiting: {
    request: InvocationRequest;
    sink: InvocationSink;
    control: { cancelled?: string };
  }[] = [];
  /** Made once the Handshake says which values the runtime takes (features `values.arrow`, `values.blob`). */
  private requests!: SessionRequestWriter;
  private flushScheduled = false;
  private nextInvocationId = 1;
  /** Whether the runtime implements ValidateConfig; undefined until it was first asked. */
  private validatesConfig: boolean | undefined;
  private closed = false;
  description!: RuntimeDescription;
  nodeTypes: NodeType[] = [];

  private constructor(
    grpcModule: Grpc,
    private readonly options: RuntimeClientOptions,
  ) {
    const Client = grpcModule.makeGenericClientConstructor(
      grpcServiceDefinition(RuntimeService),
      "RuntimeService",
    );
    const pingIntervalMs = options.pingIntervalMs ?? 10_000;
    this.client = new Client(options.address, grpcModule.credentials.createInsecure(), {
      "grpc.max_receive_message_length": options.maxMessageBytes,
      "grpc.max_send_message_length": options.maxMessageBytes,
      "grpc.enable_retries": 0,
      ...(pingIntervalMs > 0
        ? {
            "grpc.keepalive_time_ms": pingIntervalMs,
            "grpc.keepalive_timeout_ms": options.pingTimeoutMs ?? 20_000,
            // The session is open for the runtime's whole life; pinging does not depend on other calls.
            "grpc.keepalive_permit_without_calls": 1,
          }
        : {}),
    });
    this.metadata = new grpcModule.Metadata();
    this.metadata.set(TOKEN_METADATA_KEY, options.token);
  }

  /** Connects, performs the Handshake and discovery, and opens the session. */
  static async connect(options: RuntimeClientOptions): Promise<RuntimeClient> {
    // grpc-js is CommonJS: its exports object is the default export, loaded natively as from the CLI's bundle.
    const grpcModule = (await import("@grpc/grpc-js")).default;
    const client = new RuntimeClient(grpcModule, options);
    try {
      const deadline = Date.now() + options.connectTimeoutMs;
      await client.waitForReady(options.connectTimeoutMs);
      const handshake = await client.unary<HandshakeResponse>(
        "handshake",
        create(HandshakeRequestSchema, {
          hostVersion: "0.1.0",
          abiVersions: [...ABI_VERSIONS],
          features: [],
        }),
        Math.max(1, deadline - Date.now()),
      );
      if (!ABI_VERSIONS.includes(handshake.abiVersion)) {
        throw new ConductorError(
          "abi_mismatch",
          `runtime "${options.name}" speaks ABI ${handshake.abiVersion}, host expects ${ABI_VERSIONS.join(" or ")}; upgrade the runtime or the host`,
        );
      }
      client.description = {
        abiVersion: handshake.abiVersion,
        name: options.name,
        language: handshake.runtime?.language ?? "unknown",
        version: handshake.runtime?.version ?? "",
        pid: handshake.runtime?.pid ?? 0,
        features: handshake.features,
        maxConcurrency: Math.max(1, handshake.maxConcurrency),
        maxMessageBytes: Number(handshake.maxMessageBytes),
        schemaHash: handshake.schemaHash,
      };
      const listed = await client.unary<ListNodeTypesResponse>(
        "listNodeTypes",
        create(ListNodeTypesRequestSchema, {}),
        options.connectTimeoutMs,
      );
      client.nodeTypes = listed.nodeTypes;
      const receiver = receiverFeatures(
        options.name,
        handshake.features,
        // The smaller of the two message limits, less room for the rest of the message around the value.
        Math.min(options.maxMessageBytes, Number(handshake.maxMessageBytes) || options.maxMessageBytes) -
          64 * 1024,
      );
      // A runtime that reads no blobs gets every value inline: none is written to the blob directory for it.
      client.requests = new SessionRequestWriter(
        receiver.blob ? options.blobs : { inlineLimit: options.blobs.inlineLimit },
        receiver,
      );
      client.openSession();
      return client;
    } catch (error) {
      client.client.close();
      if (error instanceof ConductorError) throw error;
      throw new ConductorError(
        "runtime_start_failed",
        `runtime "${options.name}" at ${options.address} did not complete the handshake: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  get supportsSteps(): boolean {
    return this.description.features.includes(FEATURES.steps);
  }

  /** Whether the runtime serves stream ports (feature `stream.credits`, docs/protocol.md §3.5). */
  get supportsStreams(): boolean {
    return this.description.features.includes(FEATURES.streams);
  }

  /** How many invocations are running on the runtime now. */
  get running(): number {
    return this.inFlight.size;
  }

  execute(request: InvocationRequest, sink: InvocationSink): InvocationControl {
    const control: { cancelled?: string } = {};
    if (this.inFlight.size >= this.description.maxConcurrency) {
      this.waiting.push({ request, sink, control });
    } else {
      this.start(request, sink, control);
    }
    return {
      cancel: (reason: string) => {
        if (control.cancelled !== undefined) return;
        control.cancelled = reason;
        const index = this.waiting.findIndex((entry) => entry.control === control);
        if (index >= 0) {
          this.waiting.splice(index, 1);
          sink.cancelled(0, reason);
        } else {
          this.cancel(request.invocationId, reason);
        }
      },
    };
  }

  async validateConfig(nodeType: string, config: Record<string, unknown>): Promise<ConfigDiagnostic[]> {
    const described = this.nodeTypes.find((candidate) => candidate.type === nodeType);
    if (this.validatesConfig === false && described !== undefined) {
      return checkConfigAgainstSchema(described, config);
    }
    let response: ValidateConfigResponse;
    try {
      response = await this.unary<ValidateConfigResponse>(
        "validateConfig",
        create(ValidateConfigRequestSchema, { nodeType, config: encodeJsonValue(config) }),
      );
      this.validatesConfig = true;
    } catch (error) {
      // ValidateConfig is optional (docs/protocol.md §2): without it the host checks the config_schema itself.
      if ((error as grpc.ServiceError).code !== GRPC_UNIMPLEMENTED || described === undefined) throw error;
      this.validatesConfig = false;
      return checkConfigAgainstSchema(described, config);
    }
    return response.diagnostics.map((d) => ({
      path: d.path,
      message:
        d.message +
        (d.expected !== "" && !d.message.includes("expected") ? `; expected ${d.expected}` : "") +
        (d.found !== "" && !d.message.includes("found") ? `, found ${d.found}` : ""),
    }));
  }

  /** Stops new work, waits for running invocations up to `graceMs`, then asks the runtime to exit. */
  async shutdown(graceMs: number): Promise<void> {
    this.closed = true;
    try {
      await this.unary("drain", create(DrainRequestSchema, { graceMs }), graceMs + 1_000);
      await this.unary("shutdown", create(ShutdownRequestSchema, {}), 1_000);
    } catch {
      // The runtime may already be gone; the supervisor falls back to signals.
    }
    this.close();
  }

  /** Fails every invocation in flight or waiting (the runtime is lost) and closes the connection. */
  failAll(failure: (nodeId: string) => FailureInfo): void {
    for (const [id, entry] of this.inFlight) {
      this.inFlight.delete(id);
      clearTimeout(entry.cancelTimer);
      const info = failure(entry.nodeIds[entry.step] ?? "?");
      if (!this.endStreams(entry, entry.step, info)) entry.sink.failed(entry.step, info, 0);
    }
    for (const { request, sink } of this.waiting.splice(0)) {
      sink.failed(0, failure(request.steps[0]?.nodeId ?? "?"), 0);
    }
  }

  /** Takes the invocations that never started, so they can be re-sent to a restarted runtime. */
  takeWaiting(): { request: InvocationRequest; sink: InvocationSink }[] {
    return this.waiting.splice(0).map(({ request, sink }) => ({ request, sink }));
  }

  close(): void {
    this.closed = true;
    this.session?.end();
    this.session = undefined;
    this.client.close();
  }

  private start(request: InvocationRequest, sink: InvocationSink, control: { cancelled?: string }): void {
    const id = this.nextInvocationId++;
    // The id is the session's own; the caller's request object is not shared.
    request.invocationId = id;
    let streams: InvocationStreams | undefined;
    try {
      streams = this.prepareStreams(id, request);
    } catch (error) {
      sink.rejected((error as { failure: FailureInfo }).failure);
      return;
    }
    try {
      this.requests.execute(request);
      // The first window of each stream output leaves with the Execute, in the same message.
      if (streams !== undefined)
        for (const key of streams.outputs.keys()) {
          const [step, port] = splitKey(key);
          this.requests.credit(id, step, port, INITIAL_CREDITS);
        }
    } catch (error) {
      sink.rejected({
        message:
          error instanceof ValueError && error.type !== "value.unencodable"
            ? error.message
            : `inputs cannot be encoded: ${(error as Error).message}`,
        type: error instanceof ValueError ? error.type : "value.unencodable",
        retryable: false,
      });
      return;
    }
    this.inFlight.set(id, {
      sink,
      lastStep: request.steps.length - 1,
      step: 0,
      nodeIds: request.steps.map((step) => step.nodeId),
      ...(streams === undefined ? {} : { streams }),
    });
    this.scheduleFlush();
    if (control.cancelled !== undefined) this.cancel(id, control.cancelled);
  }

  private cancel(invocationId: number, reason: string): void {
    const entry = this.inFlight.get(invocationId);
    if (entry === undefined || entry.cancelTimer !== undefined) return;
    const graceMs = this.options.cancelGraceMs ?? 2_000;
    this.requests.cancel(invocationId, reason, graceMs);
    this.scheduleFlush();
    entry.cancelTimer = setTimeout(
      () => {
        if (!this.inFlight.has(invocationId)) return;
        this.inFlight.delete(invocationId);
        const nodeId = entry.nodeIds[entry.step] ?? "?";
        const restarting = this.options.onUnresponsive(nodeId, graceMs);
        const message = `${reason} (the runtime did not stop node "${nodeId}" within ${graceMs} ms)`;
        if (!this.endStreams(entry, entry.step, { message, type: "cancelled", retryable: false }))
          entry.sink.cancelled(entry.step, message);
        if (!restarting) this.startWaiting();
      },
      Math.round(graceMs * (1 + GRACE_MARGIN)),
    );
    entry.cancelTimer.unref();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Commands issued in the same tick (a fan-out) leave in one message.
    process.nextTick(this.flush);
  }

  private readonly flush = () => {
    this.flushScheduled = false;
    if (this.session === undefined || this.requests.size === 0) return;
    this.session.write(this.requests.finish());
  };

  private openSession(): void {
    const session = this.client.makeBidiStreamRequest(
      `/${RuntimeService.typeName}/Session`,
      (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      (bytes: Buffer) => bytes,
      this.metadata,
    ) as grpc.ClientDuplexStream<Uint8Array, Uint8Array>;
    session.on("data", (bytes: Uint8Array) => dispatchSessionResponse(bytes, this.route));
    const lost = (reason: string) => {
      if (this.session !== session) return;
      this.session = undefined;
      if (!this.closed) this.options.onSessionLost(reason);
    };
    session.on("error", (error: Error) => lost(error.message));
    session.on("end", () => lost("the runtime closed the session"));
    this.session = session;
  }

  /** The sink of an invocation in flight, wrapped to track its current step and its end. */
  private readonly route = (id: number): InvocationSink | undefined => {
    const entry = this.inFlight.get(id);
    if (entry === undefined) return undefined;
    entry.tracker ??= this.tracker(id, entry);
    return entry.tracker;
  };

  private tracker(id: number, entry: InFlight): InvocationSink {
    if (entry.streams !== undefined) return this.streamTracker(id, entry, entry.streams);
    return observeSink(entry.sink, {
      onStarted: (step) => {
        entry.step = step;
      },
      onEnd: (step, end) => {
        if (end !== "completed" || step === entry.lastStep) this.finish(id, entry);
      },
    });
  }

  /**
   * Finds the stream ports of the invocation's steps and sets up their forwarding: a {@link RemoteOutputStream}
   * per stream output, a {@link RemoteInputFeed} per stream input (whose input becomes `Input.stream`). Throws
   * `{ failure }` when the runtime did not announce `stream.credits` but a step has a stream port.
   */
  private prepareStreams(id: number, request: InvocationRequest): InvocationStreams | undefined {
    let streams: InvocationStreams | undefined;
    request.steps.forEach((step, index) => {
      const described = this.nodeTypes.find((candidate) => candidate.type === step.nodeType);
      if (described === undefined) return;
      const outputs = described.outputs.filter((port) => port.stream);
      const inputs = described.inputs.filter((port) => port.stream);
      if (outputs.length === 0 && inputs.length === 0) return;
      const label = `node "${step.nodeId}" (${step.nodeType}) on runtime "${this.options.name}"`;
      if (!this.supportsStreams) {
        const port = outputs[0] ?? inputs[0]!;
        throw {
          failure: {
            message: `${label}: ${outputs.includes(port) ? "output" : "input"} "${port.name}" is a stream, but runtime "${this.options.name}" did not announce the feature "${FEATURES.streams}", so it cannot carry streams (docs/protocol.md §3.5)`,
            type: "stream.unsupported",
            retryable: false,
          } satisfies FailureInfo,
        };
      }
      streams ??= { outputs: new Map(), inputs: new Map(), opened: new Map() };
      for (const port of outputs) {
        streams.outputs.set(
          streamKey(index, port.name),
          new RemoteOutputStream(port.name, {
            label,
            sendCredit: (credits) => {
              if (!this.inFlight.has(id)) return;
              this.requests.credit(id, index, port.name, credits);
              this.scheduleFlush();
            },
            cancel: (reason) => this.cancel(id, reason),
          }),
        );
      }
      for (const port of inputs) {
        const input = step.inputs[port.name];
        if (input === undefined || !("value" in input) || !isAsyncIterable(input.value)) continue;
        const source = input.value;
        step.inputs[port.name] = {
          stream:
            source instanceof ChannelReader
              ? { nodeId: source.producer, port: source.port }
              : { nodeId: "", port: "" },
        };
        streams.inputs.set(
          streamKey(index, port.name),
          new RemoteInputFeed(source, {
            send: (items, end, failure) => {
              if (!this.inFlight.has(id)) return;
              try {
                this.requests.streamItems(id, index, port.name, items, end, failure);
              } catch (error) {
                this.requests.streamItems(id, index, port.name, [], false, {
                  message: `${label}: an item of stream input "${port.name}" cannot be encoded: ${(error as Error).message}`,
                  type: error instanceof ValueError ? error.type : "value.unencodable",
                  retryable: false,
                });
              }
              this.scheduleFlush();
            },
          }),
        );
      }
    });
    return streams;
  }

  /**
   * The sink of an invocation with stream ports: items on a stream output go to its {@link RemoteOutputStream}
   * (opening the step's streams to the host on the first), `Credit` events to the input's feed, and the step's
   * terminal event ends or fails its streams once they were opened.
   */
  private streamTracker(id: number, entry: InFlight, streams: InvocationStreams): InvocationSink {
    const sink = entry.sink;
    const closeInputs = (step: number) => {
      for (const [key, feed] of streams.inputs) if (splitKey(key)[0] === step) feed.close();
    };
    const open = (step: number, plain: Record<string, unknown>, durationUs: number) => {
      const outputs: Record<string, unknown> = { ...plain };
      for (const [key, stream] of streams.outputs)
        if (splitKey(key)[0] === step) outputs[stream.port] = stream;
      streams.opened.set(step, outputs);
      sink.completed(step, outputs, durationUs);
    };
    return {
      started: (step) => {
        entry.step = step;
        sink.started(step);
      },
      log: (step, level, message, fields) => sink.log(step, level, message, fields),
      progress: (step, fraction, message) => sink.progress(step, fraction, message),
      heartbeat: (step, details) => sink.heartbeat(step, details),
      chunk: (step, port, value) => {
        const stream = streams.outputs.get(streamKey(step, port));
        if (stream === undefined) {
          sink.chunk(step, port, value);
          return;
        }
        if (!streams.opened.has(step)) open(step, {}, 0);
        stream.receive(value);
      },
      credit: (step, port, credits) => streams.inputs.get(streamKey(step, port))?.credit(credits),
      checkpoint: (step, port, state) => streams.outputs.get(streamKey(step, port))?.checkpoint(state),
      completed: (step, outputs, durationUs) => {
        closeInputs(step);
        const opened = streams.opened.get(step);
        const ports = [...streams.outputs]
          .filter(([key]) => splitKey(key)[0] === step)
          .map(([, stream]) => stream);
        if (ports.length === 0) sink.completed(step, outputs, durationUs);
        else {
          if (opened === undefined) {
            const plain: Record<string, unknown> = {};
            for (const port in outputs)
              if (!ports.some((stream) => stream.port === port)) plain[port] = outputs[port];
            open(step, plain, durationUs);
          } else {
            // The plain outputs join the ones the host holds, before the streams end (their readers may read them).
            for (const port in outputs)
              if (!ports.some((stream) => stream.port === port)) opened[port] = outputs[port];
          }
          for (const stream of ports) stream.end();
        }
        if (step === entry.lastStep) this.finish(id, entry);
      },
      failed: (step, failure, durationUs) => {
        closeInputs(step);
        this.finish(id, entry);
        if (!this.endStreams(entry, step, failure)) sink.failed(step, failure, durationUs);
      },
      cancelled: (step, reason) => {
        closeInputs(step);
        this.finish(id, entry);
        if (!this.endStreams(entry, step, { message: reason, type: "cancelled", retryable: false }))
          sink.cancelled(step, reason);
      },
      rejected: (failure) => {
        for (const feed of streams.inputs.values()) feed.close();
        this.finish(id, entry);
        sink.rejected(failure);
      },
    };
  }

  /**
   * A step whose streams were handed to the host ended without completing: its streams fail with `failure` (their
   * readers see it where they iterate). Gives false when the step's streams were not opened (the step's end is
   * then reported as usual).
   */
  private endStreams(entry: InFlight, step: number, failure: FailureInfo): boolean {
    const streams = entry.streams;
    if (streams === undefined) return false;
    for (const feed of streams.inputs.values()) feed.close();
    if (!streams.opened.has(step)) return false;
    for (const [key, stream] of streams.outputs) if (splitKey(key)[0] === step) stream.fail(failure);
    return true;
  }

  private finish(id: number, entry: InFlight): void {
    this.inFlight.delete(id);
    clearTimeout(entry.cancelTimer);
    if (this.waiting.length > 0) queueMicrotask(() => this.startWaiting());
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.inFlight.size < this.description.maxConcurrency && !this.closed) {
      const { request, sink, control } = this.waiting.shift()!;
      this.start(request, sink, control);
    }
  }

  private waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve()));
    });
  }

  private unary<Response>(method: string, request: unknown, timeoutMs = 30_000): Promise<Response> {
    return new Promise((resolve, reject) => {
      type UnaryMethod = (
        request: unknown,
        metadata: grpc.Metadata,
        options: grpc.CallOptions,
        callback: (error: grpc.ServiceError | null, response: Response) => void,
      ) => void;
      const call = (this.client as unknown as Record<string, UnaryMethod>)[method]!;
      call.call(
        this.client,
        request,
        this.metadata,
        { deadline: Date.now() + timeoutMs },
        (error: grpc.ServiceError | null, response: Response) => (error ? reject(error) : resolve(response)),
      );
    });
  }
}

function splitKey(key: string): [number, string] {
  const slash = key.indexOf("/");
  return [Number(key.slice(0, slash)), key.slice(slash + 1)];
}
