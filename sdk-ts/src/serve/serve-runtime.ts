import { rmSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  DrainResponseSchema,
  HandshakeResponseSchema,
  ListNodeTypesResponseSchema,
  RuntimeService,
  ShutdownResponseSchema,
  ValidateConfigResponseSchema,
} from "../gen/conductor/runtime/v1/runtime_pb.js";
import type { NodeDefinition } from "../node/define-node.js";
import {
  ABI_VERSIONS,
  DEFAULT_INLINE_LIMIT,
  DEFAULT_MAX_MESSAGE_BYTES,
  ENV,
  FEATURES,
  RUNTIME_COOKIE,
  TOKEN_METADATA_KEY,
} from "../protocol/constants.js";
import { grpcServiceDefinition } from "../protocol/grpc-service.js";
import { observeSink } from "../protocol/invocation.js";
import { decodeSessionRequest } from "../protocol/session-request-codec.js";
import { SessionResponseWriter } from "../protocol/session-response-codec.js";
import { type BlobOptions, decodeValue } from "../protocol/value-codec.js";
import { createNodeRuntime, type InvocationControl, type NodeRuntime } from "../runtime/node-runtime.js";
import { installNodeTracing } from "../telemetry/node-tracing.js";
import { otlpTracesConfigured } from "../telemetry/otel-environment.js";
import { ServedStreams } from "./serve-streams.js";

/** Options of {@link serveRuntime}. */
export interface ServeRuntimeOptions {
  /**
   * The nodes to serve, or a function loading them; it runs after the cookie check, so a runtime started by hand
   * explains itself without importing user code.
   */
  nodes: readonly NodeDefinition[] | (() => Promise<readonly NodeDefinition[]>);
  /** Implementation name and version reported in the handshake. */
  implementation?: { name: string; version: string };
  /** Most invocations run at once. Default 256. */
  maxConcurrency?: number;
  /** The environment to read the host's settings from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * The features announced in the Handshake (docs/protocol.md, section 1.3). Default `session.steps`,
   * `values.arrow` and `values.blob`; a test runtime announces fewer to see that the host honours them.
   */
  features?: readonly string[];
  /**
   * Whether to serve stream ports and announce `stream.credits` (docs/protocol.md §3.5). Default true; false
   * behaves as a runtime of an older ABI minor version, whose stream ports the host refuses.
   */
  streams?: boolean;
}

/** A runtime being served; `closed` resolves when it has stopped. */
export interface ServedRuntime {
  readonly address: string;
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * Serves a module of TypeScript nodes as a Conductor runtime over the ABI (docs/protocol.md): checks the cookie,
 * listens on a Unix socket in the host's socket directory, prints the handshake line, then keeps stdout for
 * nothing else (console output goes to stderr), checks the token on every call and exits when stdin closes.
 * The Node sidecar (`runtimes/node`) is this function plus a module loader.
 */
export async function serveRuntime(options: ServeRuntimeOptions): Promise<ServedRuntime> {
  const env = options.env ?? process.env;
  const implementation = options.implementation ?? { name: "conductor-runtime-node", version: "0.1.0" };
  const runtimeName = env[ENV.runtimeName] ?? "node";
  if (env[ENV.cookie] !== RUNTIME_COOKIE) {
    process.stderr.write(
      `this is the Conductor ${runtimeName} runtime (${implementation.name} ${implementation.version}); it is started ` +
        "by the Conductor host, not by hand: run `conductor run <blueprint>`.\n" +
        "To attach a debugger, see CONDUCTOR_REATTACH in docs/protocol.md.\n",
    );
    process.exit(2);
  }
  const socketDir = required(env, ENV.socketDir);
  const token = required(env, ENV.token);
  const hostVersions = (env[ENV.abiVersions] ?? "1")
    .split(",")
    .map((part) => Number.parseInt(part.trim(), 10))
    .filter((version) => Number.isInteger(version));
  const abi = hostVersions.find((version) => ABI_VERSIONS.includes(version)) ?? ABI_VERSIONS[0]!;
  const maxMessageBytes = numberFrom(env, ENV.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES, 1);
  const blobs: BlobOptions = {
    inlineLimit: numberFrom(env, ENV.inlineLimit, DEFAULT_INLINE_LIMIT, 0),
    blobDir: env[ENV.blobDir],
  };

  // Stdout belongs to the handshake line; everything a node prints goes to stderr.
  const writeStdout = process.stdout.write.bind(process.stdout);
  redirectStdoutToStderr();

  // Because a runtime without tracing must not load the OpenTelemetry SDK, it is imported only when the OTEL_*
  // environment asks for export (docs/telemetry.md).
  const tracing = otlpTracesConfigured(env)
    ? await installNodeTracing({ serviceName: implementation.name }).catch((error: unknown) => {
        process.stderr.write(`OpenTelemetry tracing is off: ${(error as Error).message}\n`);
        return undefined;
      })
    : undefined;

  let nodes: readonly NodeDefinition[];
  try {
    nodes = typeof options.nodes === "function" ? await options.nodes() : options.nodes;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
  const runtime = createNodeRuntime({
    nodes,
    ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
  });
  const server = new grpc.Server({
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_send_message_length": maxMessageBytes,
  });
  let draining = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  const close = async () => {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    resolveClosed();
  };
  let exiting = false;
  const exitSoon = () => {
    if (exiting) return;
    exiting = true;
    setImmediate(() => {
      // tryShutdown lets the answer to Shutdown reach the host before the process exits; a host that keeps its
      // session open past a second gets the connection closed under it.
      const exit = () => {
        resolveClosed();
        // Writes to a pipe are asynchronous: exiting at once would drop what nodes printed last.
        void Promise.all([flushOutput(), tracing?.shutdown().catch(() => {})]).then(() => process.exit(0));
      };
      const force = setTimeout(() => {
        server.forceShutdown();
        exit();
      }, 1_000);
      server.tryShutdown(() => {
        clearTimeout(force);
        exit();
      });
    });
  };

  const authorized = (metadata: grpc.Metadata) => metadata.get(TOKEN_METADATA_KEY)[0] === token;
  const unauthenticated = { code: grpc.status.UNAUTHENTICATED, details: "missing or wrong conductor-token" };

  server.addService(grpcServiceDefinition(RuntimeService, { rawMethods: ["session"] }), {
    handshake: unary(authorized, unauthenticated, () =>
      create(HandshakeResponseSchema, {
        abiVersion: abi,
        runtime: {
          name: runtimeName,
          language: "typescript",
          version: implementation.version,
          pid: process.pid,
        },
        features: [
          ...(options.features ?? [
            FEATURES.steps,
            FEATURES.arrow,
            FEATURES.blob,
            ...(options.streams === false ? [] : [FEATURES.streams, FEATURES.checkpoints]),
          ]),
        ],
        maxConcurrency: runtime.maxConcurrency,
        maxMessageBytes: BigInt(maxMessageBytes),
        schemaHash: runtime.schemaHash,
      }),
    ),
    listNodeTypes: unary(authorized, unauthenticated, () =>
      create(ListNodeTypesResponseSchema, { nodeTypes: [...runtime.nodeTypes] }),
    ),
    validateConfig: unary(authorized, unauthenticated, (request: { nodeType: string; config?: never }) =>
      create(ValidateConfigResponseSchema, {
        diagnostics: runtime.validateConfig(
          request.nodeType,
          request.config === undefined ? {} : decodeValue(request.config),
        ),
      }),
    ),
    drain: unary(authorized, unauthenticated, async (request: { graceMs: number }) => {
      draining = true;
      return create(DrainResponseSchema, { unfinished: await runtime.drain(request.graceMs) });
    }),
    shutdown: unary(authorized, unauthenticated, () => {
      exitSoon();
      return create(ShutdownResponseSchema, {});
    }),
    session: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => {
      if (!authorized(call.metadata)) {
        call.emit("error", unauthenticated);
        return;
      }
      serveSession(call, runtime, blobs, () => draining);
    },
  });

  const address = join(socketDir, `${runtimeName}.sock`);
  // A socket file left by an earlier process of this runtime would make the bind fail (docs/protocol.md §1.1).
  rmSync(address, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${address}`, grpc.ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    );
  });

  writeStdout(
    `${JSON.stringify({
      conductor: 1,
      abi,
      network: "unix",
      address,
      pid: process.pid,
      runtime: runtimeName,
      version: implementation.version,
    })}\n`,
  );

  // The host keeps our stdin open for as long as it lives; end-of-file means it is gone.
  process.stdin.on("end", exitSoon);
  process.stdin.on("error", exitSoon);
  process.stdin.resume();

  return { address, closed, close };
}

/** Runs one session: executes commands as they arrive and batches the events that are ready into one message. */
function serveSession(
  call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>,
  runtime: NodeRuntime,
  blobs: BlobOptions,
  isDraining: () => boolean,
): void {
  const invocations = new Map<number, InvocationControl>();
  const responses = new SessionResponseWriter(blobs);
  const streams = new ServedStreams(runtime);
  let flushScheduled = false;
  let open = true;
  const flush = () => {
    flushScheduled = false;
    if (!open || responses.size === 0) return;
    call.write(responses.finish());
  };
  const scheduleFlush = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    // setImmediate runs after every pending microtask, so a chain of quick steps leaves in one message.
    setImmediate(flush);
  };

  call.on("data", (bytes: Uint8Array) => {
    for (const command of decodeSessionRequest(bytes)) {
      if (command.kind === "cancel") {
        invocations.get(command.invocationId)?.cancel(command.reason || "cancelled by the host");
        continue;
      }
      if (command.kind === "credit") {
        streams.credit(command);
        continue;
      }
      if (command.kind === "streamItems") {
        streams.items(command);
        continue;
      }
      const { request } = command;
      const id = request.invocationId;
      const sink = responses.sink(id, scheduleFlush);
      if (invocations.has(id)) {
        // The running invocation keeps its id and its events; only the new Execute is refused.
        sink.rejected({
          message: `invocation ${id} is already running in this session; each Execute needs an id of its own`,
          type: "step.invalid",
          retryable: false,
        });
        continue;
      }
      if (isDraining()) {
        sink.rejected({
          message: "runtime is draining; it accepts no new invocations",
          type: "runtime.busy",
          retryable: true,
        });
        continue;
      }
      const lastStep = request.steps.length - 1;
      const tracked = observeSink(sink, {
        onEnd: (step, end) => {
          if (end !== "completed" || step === lastStep) invocations.delete(id);
        },
      });
      streams.prepare(request, tracked);
      const control = runtime.execute(request, streams.wrap(request, tracked));
      invocations.set(id, {
        cancel: (reason) => {
          streams.cancel(id, reason);
          control.cancel(reason);
        },
      });
    }
  });
  const cancelAll = () => {
    open = false;
    for (const control of invocations.values()) control.cancel("the session closed");
    invocations.clear();
  };
  call.on("end", () => {
    cancelAll();
    call.end();
  });
  call.on("cancelled", cancelAll);
  call.on("error", cancelAll);
}

type UnaryHandler = grpc.handleUnaryCall<unknown, unknown>;

function unary<Request, Response>(
  authorized: (metadata: grpc.Metadata) => boolean,
  unauthenticated: Partial<grpc.StatusObject>,
  handle: (request: Request) => Response | Promise<Response>,
): UnaryHandler {
  return (call, callback) => {
    if (!authorized(call.metadata)) {
      callback(unauthenticated, null);
      return;
    }
    Promise.resolve()
      .then(() => handle(call.request as Request))
      .then(
        (response) => callback(null, response),
        (error: unknown) =>
          callback({ code: grpc.status.INTERNAL, details: (error as Error).message ?? String(error) }, null),
      );
  };
}

/** How long an exiting runtime waits for its stdout and stderr to drain, at most (a host that stopped reading). */
const FLUSH_LIMIT_MS = 5_000;

/**
 * Resolves once everything written to stdout and stderr so far has reached the pipe (a write's callback runs after
 * the writes before it), or after FLUSH_LIMIT_MS.
 */
function flushOutput(): Promise<void> {
  const flushed = (stream: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => {
      if (stream.destroyed || !stream.writable) resolve();
      else stream.write("", () => resolve());
    });
  return Promise.race([
    Promise.all([flushed(process.stdout), flushed(process.stderr)]).then(() => {}),
    new Promise<void>((resolve) => setTimeout(resolve, FLUSH_LIMIT_MS).unref()),
  ]);
}

function redirectStdoutToStderr(): void {
  const toStderr = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  process.stdout.write = toStderr;
  console.log = console.error;
  console.info = console.error;
  console.debug = console.error;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === "") {
    process.stderr.write(`${name} is not set; the Conductor host sets it when it starts a runtime\n`);
    process.exit(2);
  }
  return value;
}

/** An optional whole-number variable: its default when unset; a malformed one exits 2, like a missing required one. */
function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, minimum: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) {
    process.stderr.write(
      `${name} must be a whole number of at least ${minimum}, found "${text}"; the Conductor host sets it when it starts a runtime\n`,
    );
    process.exit(2);
  }
  return value;
}
