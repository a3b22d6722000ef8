import http from "node:http";
import http2, { type ServerHttp2Session } from "node:http2";
import net, { type AddressInfo, type Socket } from "node:net";
import { ConductorService } from "@conductor/sdk/client";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Conductor } from "../conductor.js";
import { ConductorError } from "../errors.js";
import { createApiService } from "./api-service.js";
import { authInterceptor, bindProblem, createAuthPolicy } from "./auth.js";
import { corsProblem, createCorsPolicy } from "./cors.js";
import { createExecutionStarter } from "./execution-starter.js";
import { answerHealth } from "./health-check.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";
import { createStaticFiles, DEFAULT_DEBUGGER_DIR } from "./static-files.js";
import { HOOKS_PREFIX, handleWebhook, reply } from "./webhooks.js";

/** How long a new connection may take to send its first bytes. */
const FIRST_BYTES_TIMEOUT_MS = 30_000;

/** Options of {@link createApiServer}. */
export interface ApiServerOptions {
  /** The address to bind. Default 127.0.0.1; any non-loopback address requires `token`. */
  host?: string;
  /** The port; 0 picks a free one. Default 7070. */
  port?: number;
  /** The bearer token every API call and webhook must carry. Default: none (loopback binds only). */
  token?: string;
  /** The directory of the built visual debugger, served at `/`; false serves no pages. Default host/debugger/dist. */
  debuggerDir?: string | false;
  /** Whether `POST /hooks/<blueprint-id>` starts blueprints. Default true. */
  webhooks?: boolean;
  /**
   * Origins of browser apps served elsewhere that may call the API (CORS), e.g. `https://app.example.com`; `*` for
   * any, which needs `token`. Default: none (the debugger is served from the same origin and needs no CORS).
   */
  corsOrigins?: readonly string[];
  /** How long close() lets open calls finish before it drops their connections. Default 5 s. */
  closeGraceMs?: number;
}

/** A running API server. */
export interface ApiServer {
  /** The base URL of the API, the debugger and the webhooks, e.g. `http://127.0.0.1:7070`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
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
 * @example
 * const conductor = await createConductor({ projectDir: "." });
 * const server = await createApiServer(conductor, { port: 0 });
 * console.log(`API and debugger at ${server.url}`);
 */
export async function createApiServer(
  conductor: Conductor,
  options: ApiServerOptions = {},
): Promise<ApiServer> {
  const host = options.host ?? "127.0.0.1";
  const problem = bindProblem(host, options.token) ?? corsProblem(options.corsOrigins ?? [], options.token);
  if (problem !== undefined) throw new ConductorError("server_insecure", problem);
  const crossOrigin = createCorsPolicy(options.corsOrigins ?? []);
  const policy = createAuthPolicy(host, options.token);
  const shutdown = new AbortController();
  const starter = createExecutionStarter(conductor);
  const staticFiles =
    options.debuggerDir === false
      ? undefined
      : createStaticFiles(options.debuggerDir ?? DEFAULT_DEBUGGER_DIR);
  let closing = false;

  const other = async (request: HttpRequest, response: HttpResponse): Promise<void> => {
    const path = request.url ?? "/";
    if (answerHealth(path, request, response, conductor, policy)) return;
    if (options.webhooks !== false && path.startsWith(HOOKS_PREFIX)) {
      const refused = policy.check({
        authorization: request.headers.authorization,
        host: request.headers.host,
      });
      if (refused !== undefined) {
        if (refused.kind === "unauthenticated")
          response.setHeader("WWW-Authenticate", 'Bearer realm="conductor"');
        reply(response, refused.kind === "unauthenticated" ? 401 : 403, {
          error: { code: refused.kind, message: refused.message },
        });
        return;
      }
      return handleWebhook(request, response, starter, shutdown.signal);
    }
    if (staticFiles !== undefined) return staticFiles(request, response);
    response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    response.end("not found\n");
  };

  const rpc = connectNodeAdapter({
    routes: (router) => router.service(ConductorService, createApiService(conductor, starter)),
    interceptors: [authInterceptor(policy)],
    shutdownSignal: shutdown.signal,
    fallback: (request, response) => {
      other(request, response).catch((error: unknown) => {
        if (!response.headersSent) {
          reply(response, 500, { error: { code: "internal", message: (error as Error).message } });
        } else response.destroy();
      });
    },
  });
  const handler = (request: Parameters<typeof rpc>[0], response: Parameters<typeof rpc>[1]) => {
    if (crossOrigin.handle(request, response)) return;
    if (closing) {
      response.setHeader("Connection", "close");
      reply(response, 503, { error: { code: "closed", message: "the server is shutting down" } });
      return;
    }
    rpc(request, response);
  };

  const http1 = http.createServer(handler);
  const http2Server = http2.createServer(handler);
  const sessions = new Set<ServerHttp2Session>();
  http2Server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  const sockets = new Set<Socket>();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // Until an HTTP server owns the socket, a reset from the client must not become an uncaught error, and a
    // client that connects and says nothing must not hold the socket for ever.
    const ignore = () => {};
    socket.on("error", ignore);
    socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
    socket.once("data", (chunk: Buffer) => {
      socket.off("error", ignore);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      if (chunk.subarray(0, 3).toString("latin1") === "PRI") {
        // The HTTP/2 session takes what is buffered on the socket before reading from it.
        http2Server.emit("connection", socket);
      } else {
        http1.emit("connection", socket);
        socket.resume();
      }
    });
  });

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
        await stopped;
      })();
      return closed;
    },
  };
}
