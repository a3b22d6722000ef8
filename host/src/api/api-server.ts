import { randomBytes } from "node:crypto";
import http from "node:http";
import http2, { type ServerHttp2Session } from "node:http2";
import net, { type AddressInfo, type Socket } from "node:net";
import { ConductorService } from "@conductor/sdk/client";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Conductor } from "../conductor.js";
import { ConductorError } from "../errors.js";
import { projectAccess } from "../project/project-access.js";
import type { ConductorMetrics } from "../telemetry/conductor-metrics.js";
import { openDeploymentStore } from "../tenancy/deployment-store.js";
import { createDeployments } from "../tenancy/deployments.js";
import { createOidcVerifier, type OidcOptions } from "../tenancy/oidc.js";
import { createQuotaGate, type NamespaceQuotas, scopeService } from "../tenancy/scoped-service.js";
import { openTenancyStore, type TenancyStore } from "../tenancy/tenancy-store.js";
import { createApiService } from "./api-service.js";
import { type AuditSink, createAuthPolicy, createRequestGate, PEER_HEADER } from "./auth.js";
import type { ScheduleSource, WorkerSource } from "./cluster-views.js";
import {
  type ConnectionLimits,
  createConnectionGuard,
  DEFAULT_CONNECTION_LIMITS,
  type GuardedRequest,
  type GuardedResponse,
  MAX_CONCURRENT_STREAMS,
} from "./connection-guard.js";
import { corsProblem, createCorsPolicy } from "./cors.js";
import { assertInlineShell, createExecutionStarter } from "./execution-starter.js";
import { answerHealth } from "./health-check.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";
import { isRequestProblem, requestUrl, rpcRequestProblem } from "./malformed-requests.js";
import { answerMetrics, METRICS_PATH } from "./metrics-endpoint.js";
import { createStaticFiles, DEFAULT_DEBUGGER_DIR } from "./static-files.js";
import { HOOKS_PREFIX, handleWebhook, reply } from "./webhooks.js";

/** Where the API's calls are: `/conductor.api.v1.ConductorService/<Method>`. */
const RPC_PREFIX = `/${ConductorService.typeName}/`;

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  /** The address to bind. Default 127.0.0.1. Beyond loopback the token crosses the network: put TLS in front. */
  host?: string;
  /** The port; 0 picks a free one. Default 7070. */
  port?: number;
  /**
   * The bearer token every API call, and every webhook not listed in `access.publicWebhooks`, must carry, loopback
   * included. Default: a random token made for this server, read from {@link ApiServer.token}
   * (`conductor serve` uses the project's, from `.conductor/api-token`).
   */
  token?: string;
  /** Told to callers that sent no token: where to find it, e.g. `it is in /srv/flows/.conductor/api-token`. */
  tokenHint?: string;
  /** The directory of the built visual debugger, served at `/`; false serves no pages. Default host/debugger/dist. */
  debuggerDir?: string | false;
  /** Whether `POST /hooks/<blueprint-id>` starts blueprints. Default true. */
  webhooks?: boolean;
  /** Prometheus metrics served on `/metrics` to callers with the token (docs/telemetry.md). */
  metrics?: ConductorMetrics;
  /**
   * Origins of browser apps served elsewhere that may call the API (CORS), e.g. `https://app.example.com`; `*` for
   * any. Default: none (the debugger is served from the same origin and needs no CORS).
   */
  corsOrigins?: readonly string[];
  /** How long close() lets open calls finish before it drops their connections. Default 5 s. */
  closeGraceMs?: number;
  /** Caps on connections, body sizes and client time ({@link DEFAULT_CONNECTION_LIMITS} for the rest). */
  limits?: Partial<ConnectionLimits>;
  /**
   * API keys, namespaces and the audit trail (docs/security.md). Default: the project's, `.conductor/tenancy.db`,
   * opened for this server and closed with it. `false`: the token alone, one namespace, no audit trail.
   */
  tenancy?: TenancyStore | false;
  /** Accepts OpenID Connect bearer tokens of this issuer and audience besides the token and API keys. */
  oidc?: OidcOptions;
  /** Limits on starting executions, for each namespace alike (needs `tenancy`). Default: none. */
  quotas?: NamespaceQuotas;
  /** The schedules the server runs, for ListSchedules. Default: the project's, listed as configured. */
  schedules?: ScheduleSource;
  /** The workers of the server's Redis, for ListWorkers. Default: none. */
  workers?: WorkerSource;
}

/** A running API server. */
export interface ApiServer {
  /** The base URL of the API, the debugger and the webhooks, e.g. `http://127.0.0.1:7070`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The bearer token callers must send (`Authorization: Bearer <token>`). */
  readonly token: string;
  /**
   * Stops accepting connections, ends watch streams, cancels the executions that RunExecution calls and
   * synchronous webhooks wait for, lets answers in flight finish, then closes every connection. The conductor
   * stays open: close it after (it cancels the executions still running and stops the runtimes).
   */
  close(): Promise<void>;
}

/**
 * Serves `conductor.api.v1` for a conductor on one port, to every kind of client: gRPC (HTTP/2 without TLS),
 * gRPC-Web and Connect (HTTP/1.1 or HTTP/2), plus webhooks and the visual debugger's pages.
 *
 * One listener serves both HTTP versions because browsers never speak HTTP/2 without TLS, while gRPC clients
 * speak nothing else; Node's `allowHTTP1` only works with TLS, so each new connection is handed to the HTTP/2 or
 * the HTTP/1.1 server by its first bytes (the HTTP/2 connection preface starts with "PRI").
 *
 * Every call that reads or runs anything needs the token (docs/security.md): callers are authenticated from their
 * headers before a body is read; bodies are capped as sent and once decompressed; slow and idle clients are cut
 * off ({@link ConnectionLimits}); a request the server cannot serve gets a 4xx, never the process's end.
 *
 * @example
 * const conductor = await createConductor({ projectDir: "." });
 * const server = await createApiServer(conductor, { port: 0 });
 * console.log(`API and debugger at ${server.url}, token ${server.token}`);
 */
export async function createApiServer(
  conductor: Conductor,
  options: ApiServerOptions = {},
): Promise<ApiServer> {
  const host = options.host ?? "127.0.0.1";
  const problem = corsProblem(options.corsOrigins ?? []);
  if (problem !== undefined) throw new ConductorError("server_insecure", problem);
  const token =
    options.token === undefined || options.token === ""
      ? randomBytes(32).toString("base64url")
      : options.token;
  // Because a token with spaces or control characters could never be sent in an Authorization header.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConductorError(
      "server_insecure",
      `the token must be printable ASCII without spaces (it travels as "Authorization: Bearer <token>"), got one of ${token.length} characters that is not; give another with --token or CONDUCTOR_TOKEN`,
    );
  }
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  const crossOrigin = createCorsPolicy(options.corsOrigins ?? []);
  const ownTenancy = options.tenancy === undefined;
  const tenancy =
    options.tenancy === false
      ? undefined
      : (options.tenancy ?? (await openTenancyStore(conductor.project.dir)));
  // Audit entries are written after the answer, batched over a short window (one transaction for the entries of
  // AUDIT_WINDOW_MS, or of AUDIT_BATCH entries, whichever comes first), because a transaction per request cost more
  // than the request's authentication and authorization (bench/src/scenarios/tenancy.ts); reading the trail through
  // the API writes what waits first, and `close()` writes the last ones (docs/security.md).
  let pendingAudit: Parameters<TenancyStore["auditMany"]>[0][number][] = [];
  let auditTimer: NodeJS.Timeout | undefined;
  const flushAudit = () => {
    if (auditTimer !== undefined) clearTimeout(auditTimer);
    auditTimer = undefined;
    const entries = pendingAudit;
    pendingAudit = [];
    try {
      tenancy?.auditMany(entries);
    } catch (error) {
      process.emitWarning(
        `the audit trail could not record ${entries.length} entries: ${(error as Error).message}`,
      );
    }
  };
  const audit: AuditSink | undefined =
    tenancy === undefined
      ? undefined
      : {
          record({ identity, action, target, address, outcome, detail }) {
            if (pendingAudit.length === 0) auditTimer = setTimeout(flushAudit, AUDIT_WINDOW_MS);
            else if (pendingAudit.length >= AUDIT_BATCH) flushAudit();
            pendingAudit.push({
              at: Date.now(),
              actor: identity.name,
              namespace: identity.namespace,
              action,
              target,
              address,
              outcome,
              detail,
            });
          },
        };
  const policy = createAuthPolicy({
    token,
    ...(options.tokenHint === undefined ? {} : { tokenHint: options.tokenHint }),
    ...(tenancy === undefined ? {} : { keys: tenancy }),
    ...(options.oidc === undefined ? {} : { oidc: createOidcVerifier(options.oidc) }),
  });
  const guard = createConnectionGuard(limits);
  const shutdown = new AbortController();
  // Versioned deployments live beside the keys, in the project's tenancy database (docs/security.md).
  const deploymentStore =
    tenancy === undefined ? undefined : openDeploymentStore(conductor.project.dir, tenancy.database);
  const deployments =
    deploymentStore === undefined
      ? undefined
      : createDeployments(conductor, deploymentStore, {
          assertInline: (loaded) => assertInlineShell(loaded, projectAccess(conductor.project).shell),
        });
  const starter = createExecutionStarter(conductor, deployments);
  // One count per namespace for the API and the webhooks.
  const quotaGate = createQuotaGate(conductor, options.quotas ?? {});
  const publicWebhooks = projectAccess(conductor.project).publicWebhooks;
  const staticFiles =
    options.debuggerDir === false
      ? undefined
      : createStaticFiles(options.debuggerDir ?? DEFAULT_DEBUGGER_DIR);
  let closing = false;

  const other = async (request: HttpRequest, response: HttpResponse): Promise<void> => {
    const url = requestUrl(request);
    if (isRequestProblem(url)) {
      reply(response, 400, { error: { code: "bad_request", message: url.message } });
      return;
    }
    if (answerHealth(url.pathname, request, response, conductor, policy)) return;
    if (options.metrics !== undefined && url.pathname === METRICS_PATH) {
      return answerMetrics(request, response, options.metrics, policy);
    }
    if (options.webhooks !== false && url.pathname.startsWith(HOOKS_PREFIX)) {
      return handleWebhook(request, response, {
        starter,
        policy,
        publicWebhooks,
        shutdownSignal: shutdown.signal,
        ...(audit === undefined ? {} : { audit }),
        ...(tenancy === undefined ? {} : { quotas: quotaGate }),
      });
    }
    if (staticFiles !== undefined) return staticFiles(request, response);
    response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    response.end("not found\n");
  };

  const rpc = connectNodeAdapter({
    routes: (router) => {
      const service = createApiService(conductor, starter, undefined, {
        schedules: options.schedules,
        workers: options.workers,
      });
      router.service(
        ConductorService,
        tenancy === undefined
          ? service
          : scopeService(
              conductor,
              service,
              auditedAfterFlush(tenancy, flushAudit),
              audit,
              quotaGate,
              deployments,
            ),
      );
    },
    // Callers are authenticated before their body is read, decompressed or parsed.
    requestGate: createRequestGate(policy, audit),
    // The cap holds for the body as sent and once decompressed (zlib's output is bounded by it, not inflated first).
    readMaxBytes: limits.maxBodyBytes,
    shutdownSignal: shutdown.signal,
    fallback: (request, response) => {
      other(request, response).catch((error: unknown) => internalError(response, error));
    },
  });
  const handler = (
    request: GuardedRequest & Parameters<typeof rpc>[0],
    response: GuardedResponse & Parameters<typeof rpc>[1],
  ) => {
    // Because an exception here would end the process (a request event has no one to hand it to), nothing escapes.
    try {
      guard.request(request, response);
      // The caller's address, for the audit trail; a value the client sent under this name is replaced.
      request.headers[PEER_HEADER] = request.socket?.remoteAddress ?? "";
      if (crossOrigin.handle(request, response)) return;
      if (closing) {
        if (request.httpVersionMajor < 2) response.setHeader("Connection", "close");
        reply(response, 503, { error: { code: "closed", message: "the server is shutting down" } });
        return;
      }
      if ((request.url ?? "").startsWith(RPC_PREFIX)) {
        const problem = rpcRequestProblem(request);
        if (problem !== undefined) {
          // The Connect protocol's error form: these calls fail before a protocol could be chosen.
          reply(response, problem.status, { code: "invalid_argument", message: problem.message });
          return;
        }
      }
      rpc(request, response);
    } catch (error) {
      internalError(response, error);
    }
  };

  const http1 = http.createServer(handler);
  const http2Server = http2.createServer(
    { settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS } },
    handler as unknown as Parameters<typeof http2.createServer>[1],
  );
  const sessions = new Set<ServerHttp2Session>();
  http2Server.on("session", (session) => {
    sessions.add(session);
    guard.http2Session(session);
    session.once("close", () => sessions.delete(session));
  });
  const sockets = new Set<Socket>();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    guard.accepted(socket);
    // Until an HTTP server owns the socket, a reset from the client must not become an uncaught error.
    const ignore = () => {};
    socket.on("error", ignore);
    socket.once("data", (chunk: Buffer) => {
      socket.off("error", ignore);
      socket.pause();
      socket.unshift(chunk);
      if (chunk.subarray(0, 3).toString("latin1") === "PRI") {
        guard.http2(socket);
        // The HTTP/2 session takes what is buffered on the socket before reading from it.
        http2Server.emit("connection", socket);
      } else {
        http1.emit("connection", socket);
        socket.resume();
      }
    });
  });
  // More connections than this are closed as they arrive: each one costs memory and a file descriptor.
  listener.maxConnections = limits.maxConnections;

  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port ?? 7070, host, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  // Accepting can fail while serving (e.g. out of file descriptors); the server goes on with the next connection.
  listener.on("error", (error) =>
    process.emitWarning(`the API server could not accept a connection: ${error.message}`),
  );
  const port = (listener.address() as AddressInfo).port;
  const urlHost =
    host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    host,
    port,
    token,
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => listener.close(() => resolve()));
        shutdown.abort(new Error("the server is shutting down"));
        for (const session of sessions) session.close();
        const deadline = Date.now() + (options.closeGraceMs ?? 5_000);
        while (sockets.size > 0 && Date.now() < deadline) {
          http1.closeIdleConnections();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        for (const socket of sockets) socket.destroy();
        guard.close();
        await stopped;
        flushAudit();
        deploymentStore?.close();
        if (ownTenancy) tenancy?.close();
      })();
      return closed;
    },
  };
}

/** Answers a request whose handling failed unexpectedly: 500 when nothing was sent yet, else the stream ends. */
function internalError(response: HttpResponse, error: unknown): void {
  try {
    if (!response.headersSent) {
      reply(response, 500, {
        error: {
          code: "internal",
          message: `internal error in the host: ${(error as Error)?.message ?? String(error)}`,
        },
      });
    } else response.destroy();
  } catch {
    response.destroy();
  }
}

/** How long audit entries wait to be written together, at most (milliseconds), and how many at most. */
const AUDIT_WINDOW_MS = 20;
const AUDIT_BATCH = 256;

/** The store, whose trail is read (listed, verified) only after the entries that wait are written. */
function auditedAfterFlush(tenancy: TenancyStore, flush: () => void): TenancyStore {
  const store: TenancyStore = Object.create(tenancy);
  store.listAudit = (options) => {
    flush();
    return tenancy.listAudit(options);
  };
  store.verifyAudit = () => {
    flush();
    return tenancy.verifyAudit();
  };
  return store;
}
