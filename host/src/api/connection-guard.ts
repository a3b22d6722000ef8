import { constants as http2Constants, type ServerHttp2Session } from "node:http2";
import type { Socket } from "node:net";
import type { HttpRequest, HttpResponse } from "./http-types.js";

/** How much a client may take from the server: connections, bytes and time. */
export interface ConnectionLimits {
  /** Most connections open at once; more are closed as they arrive. */
  maxConnections: number;
  /** Most bytes of an API call's body, as sent and once decompressed (webhooks take at most 1 MiB). */
  maxBodyBytes: number;
  /**
   * How long a connection may take to send a request's headers, counted from when it opens or from the end of its
   * previous answer (HTTP/1.1); then it gets 408 and is closed.
   */
  headersTimeoutMs: number;
  /** How long a request may take to send its body once its headers are in; then it gets 408 and is ended. */
  bodyTimeoutMs: number;
  /** How long an HTTP/2 connection may stay without a request in progress before it is closed. */
  idleTimeoutMs: number;
}

/** The limits of a server started without others. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 512,
  maxBodyBytes: 32 * 1024 * 1024,
  headersTimeoutMs: 20_000,
  bodyTimeoutMs: 60_000,
  idleTimeoutMs: 60_000,
};

/** Most requests one HTTP/2 connection may have in progress at once. */
export const MAX_CONCURRENT_STREAMS = 128;

/** How long an idle HTTP/2 connection told to go away (GOAWAY) has to close before it is cut. */
const GOAWAY_GRACE_MS = 1_000;

const REQUEST_TIMEOUT_RESPONSE =
  "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 48\r\n\r\nthe request's headers did not arrive in time\r\n\r\n";

/**
 * Deadlines for clients, so that slow or silent ones cannot hold connections for ever (slowloris, HTTP/2
 * connections that send only the preface): a connection must send a request's headers in time, a request its body,
 * and an HTTP/2 connection without a request in progress is closed after a while. Node's own `headersTimeout` and
 * `requestTimeout` only act on servers that listen themselves, and this server's HTTP/1.1 and HTTP/2 servers are
 * handed their connections by one listener, so the deadlines are kept here, for both versions alike.
 *
 * A long answer (a watch stream) is never cut: deadlines stop when a request's body is in, and an HTTP/2 connection
 * with a request in progress is not idle.
 */
export interface ConnectionGuard {
  /** A connection was accepted: it has `headersTimeoutMs` to send a request's headers. */
  accepted(socket: Socket): void;
  /** The connection turned out to speak HTTP/2: its session is watched for idleness instead (see http2Session). */
  http2(socket: Socket): void;
  /** Watches an HTTP/2 session: without a request in progress for `idleTimeoutMs`, it is closed. */
  http2Session(session: ServerHttp2Session): void;
  /** A request's headers arrived: its body has `bodyTimeoutMs` to follow. */
  request(request: GuardedRequest, response: GuardedResponse): void;
  /** Stops every deadline (the server is closing). */
  close(): void;
}

/** What the guard needs of a request: HTTP/1.1 `IncomingMessage` or HTTP/2 `Http2ServerRequest`. */
export interface GuardedRequest extends HttpRequest {
  readonly httpVersionMajor: number;
  readonly complete: boolean;
  readonly socket: Socket | null;
  readonly stream?: { close(code?: number): void };
  once(event: "end", listener: () => void): unknown;
}

/** What the guard needs of a response. */
export interface GuardedResponse extends HttpResponse {
  once(event: "close" | "finish", listener: () => void): unknown;
}

/** Creates the deadlines of one server. */
export function createConnectionGuard(limits: ConnectionLimits): ConnectionGuard {
  const headerDeadlines = new Map<Socket, NodeJS.Timeout>();
  const idleDeadlines = new Map<ServerHttp2Session, NodeJS.Timeout>();

  const disarm = (socket: Socket) => {
    clearTimeout(headerDeadlines.get(socket));
    headerDeadlines.delete(socket);
  };
  const arm = (socket: Socket) => {
    disarm(socket);
    if (socket.destroyed) return;
    const timer = setTimeout(() => {
      headerDeadlines.delete(socket);
      // Written straight to the socket: no request exists to answer through.
      if (socket.writable) socket.write(REQUEST_TIMEOUT_RESPONSE);
      socket.destroy();
    }, limits.headersTimeoutMs);
    timer.unref();
    headerDeadlines.set(socket, timer);
  };

  return {
    accepted(socket) {
      arm(socket);
      socket.once("close", () => disarm(socket));
    },

    http2(socket) {
      disarm(socket);
    },

    http2Session(session) {
      let open = 0;
      const idle = () => {
        clearTimeout(idleDeadlines.get(session));
        if (session.closed || session.destroyed) return;
        const timer = setTimeout(() => {
          idleDeadlines.delete(session);
          session.close();
          setTimeout(() => session.destroy(), GOAWAY_GRACE_MS).unref();
        }, limits.idleTimeoutMs);
        timer.unref();
        idleDeadlines.set(session, timer);
      };
      idle();
      session.on("stream", (stream) => {
        open++;
        clearTimeout(idleDeadlines.get(session));
        stream.once("close", () => {
          open--;
          if (open === 0) idle();
        });
      });
      session.once("close", () => {
        clearTimeout(idleDeadlines.get(session));
        idleDeadlines.delete(session);
      });
    },

    request(request, response) {
      const http1 = request.httpVersionMajor < 2 ? request.socket : null;
      if (http1 !== null) {
        disarm(http1);
        // An answer given before the request's body is in (refused from its headers, or over the cap) leaves the
        // rest to be read and dropped, so that a client still sending it is not cut off mid-write (EPIPE) before it
        // reads the answer; the next request's header deadline bounds how long that takes. A body declared larger
        // than the cap will never be wanted: the connection ends instead, and the answer says so.
        const writeHead = response.writeHead.bind(response);
        response.writeHead = (...args: Parameters<typeof writeHead>) => {
          const declared = Number(request.headers["content-length"]);
          if (!request.complete && !response.headersSent && declared > limits.maxBodyBytes) {
            response.setHeader("Connection", "close");
          }
          return writeHead(...args);
        };
        // The next request on a kept-alive connection has the same time for its headers.
        response.once("finish", () => arm(http1));
      }
      if (request.complete) return;
      const timer = setTimeout(() => {
        if (request.complete) return;
        if (!response.headersSent) {
          const text = "the request's body did not arrive in time\n";
          response.writeHead(408, {
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Length": Buffer.byteLength(text),
            ...(http1 === null ? {} : { Connection: "close" }),
          });
          response.end(text);
        }
        if (http1 !== null) http1.destroy();
        else request.stream?.close(http2Constants.NGHTTP2_CANCEL);
      }, limits.bodyTimeoutMs);
      timer.unref();
      const stop = () => clearTimeout(timer);
      request.once("end", stop);
      response.once("close", stop);
    },

    close() {
      for (const timer of [...headerDeadlines.values(), ...idleDeadlines.values()]) clearTimeout(timer);
      headerDeadlines.clear();
      idleDeadlines.clear();
    },
  };
}
