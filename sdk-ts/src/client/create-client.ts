import {
  type Client,
  createClient as createConnectClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { ConductorService } from "../gen/conductor/api/v1/api_pb.js";

/** A client of the Conductor API: every RPC of `conductor.api.v1.ConductorService`, with typed messages. */
export type ConductorClient = Client<typeof ConductorService>;

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Where `conductor serve` listens, e.g. `http://127.0.0.1:7070`; in a page served by it, `location.origin`. */
  baseUrl: string;
  /** The bearer token the server requires (`conductor serve --token`); sent as `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * The protocol: "connect" (default; JSON over HTTP, readable in a browser's network panel) or "grpc-web"
   * (binary), or a transport built elsewhere (e.g. connect-node's gRPC transport), used as given.
   */
  transport?: "connect" | "grpc-web" | Transport;
  /** With "connect": send binary protobuf instead of JSON (smaller, faster). Default false. */
  useBinaryFormat?: boolean;
  /** The fetch to use; default the global one (browsers, Node ≥ 18, Deno, Bun). */
  fetch?: typeof globalThis.fetch;
  /** More interceptors, run after the one that adds the token. */
  interceptors?: Interceptor[];
  /** A time limit for every call, in milliseconds; per-call `timeoutMs` overrides it. */
  defaultTimeoutMs?: number;
}

/**
 * Creates a client of the Conductor API. It runs in browsers and in Node alike, because it speaks over fetch
 * (connect-web): the visual debugger uses it, and so can scripts and services.
 *
 * @example
 * const client = createClient({ baseUrl: "http://127.0.0.1:7070" });
 * const { executionId } = await client.startExecution({
 *   blueprint: { case: "blueprintId", value: "hello" },
 *   inputsJson: JSON.stringify({ name: "Ada" }),
 * });
 * for await (const { event } of client.watchExecution({ executionId })) console.log(event?.kind.case);
 */
export function createClient(options: ClientOptions): ConductorClient {
  return createConnectClient(ConductorService, createTransport(options));
}

/** Builds the transport {@link createClient} uses, for callers that want to share it. */
export function createTransport(options: ClientOptions): Transport {
  if (typeof options.transport === "object") return options.transport;
  const interceptors = [
    ...(options.token === undefined || options.token === "" ? [] : [bearerToken(options.token)]),
    ...(options.interceptors ?? []),
  ];
  const common = {
    baseUrl: options.baseUrl,
    interceptors,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
  };
  return options.transport === "grpc-web"
    ? createGrpcWebTransport({ ...common, useBinaryFormat: true })
    : createConnectTransport({ ...common, useBinaryFormat: options.useBinaryFormat === true });
}

/** An interceptor that sends `Authorization: Bearer <token>` with every call. */
export function bearerToken(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("Authorization", `Bearer ${token}`);
    return next(request);
  };
}
