import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import {
  type DrainResponse,
  DrainResponseSchema,
  grpcServiceDefinition,
  type HandshakeResponse,
  HandshakeResponseSchema,
  type ListNodeTypesResponse,
  ListNodeTypesResponseSchema,
  RuntimeService,
  type ShutdownResponse,
  ShutdownResponseSchema,
  TOKEN_METADATA_KEY,
  type ValidateConfigResponse,
  ValidateConfigResponseSchema,
} from "@conductor/sdk/protocol";
import type * as grpc from "@grpc/grpc-js";
import { createSessionDriver, type SessionDriver } from "./session-driver.js";

/** The unary methods of RuntimeService and what they answer. */
interface UnaryMethods {
  handshake: HandshakeResponse;
  listNodeTypes: ListNodeTypesResponse;
  validateConfig: ValidateConfigResponse;
  drain: DrainResponse;
  shutdown: ShutdownResponse;
}

const RESPONSE_SCHEMAS: { [M in keyof UnaryMethods]: DescMessage } = {
  handshake: HandshakeResponseSchema,
  listNodeTypes: ListNodeTypesResponseSchema,
  validateConfig: ValidateConfigResponseSchema,
  drain: DrainResponseSchema,
  shutdown: ShutdownResponseSchema,
};

/** Which token a call carries: the right one (default), another string, or none at all. */
export interface CallOptions {
  token?: string | null;
  timeoutMs?: number;
}

/** A gRPC error as the kit reports it. */
export interface CallError {
  code: number;
  /** The status name, e.g. `UNAUTHENTICATED`. */
  status: string;
  details: string;
}

/**
 * A raw gRPC client of RuntimeService with the generated protobuf-es types, as the host speaks to a runtime but
 * without anything of the host in between: no scheduler, no codec of the host's own for the session (the kit
 * decodes with protobuf-es, the reference), and the freedom to send what a host never would (no token, bytes in
 * any field order, unknown fields).
 */
export interface AbiClient {
  call<M extends keyof UnaryMethods>(
    method: M,
    request: unknown,
    options?: CallOptions,
  ): Promise<UnaryMethods[M]>;
  /** Calls a unary method with request bytes encoded by the caller. */
  callRaw<M extends keyof UnaryMethods>(
    method: M,
    request: Uint8Array,
    options?: CallOptions,
  ): Promise<UnaryMethods[M]>;
  openSession(options?: CallOptions): SessionDriver;
  close(): void;
}

/** Options of {@link connectAbiClient}. */
export interface AbiClientOptions {
  /** From the handshake line: `unix` or `tcp`. */
  network: string;
  /** From the handshake line: a socket path, or `host:port`. */
  address: string;
  token: string;
  /** How long to wait for the socket to accept a connection. */
  connectTimeoutMs: number;
}

type Grpc = typeof import("@grpc/grpc-js");
const STATUS_NAMES: Record<number, string> = {};

/** Connects to a runtime's address; rejects when nothing accepts the connection in time. */
export async function connectAbiClient(options: AbiClientOptions): Promise<AbiClient> {
  // grpc-js is CommonJS: its exports object is the default export, loaded natively as from the CLI's bundle.
  const grpcModule: Grpc = (await import("@grpc/grpc-js")).default;
  if (Object.keys(STATUS_NAMES).length === 0) {
    for (const [name, code] of Object.entries(grpcModule.status)) {
      if (typeof code === "number") STATUS_NAMES[code] = name;
    }
  }
  const Client = grpcModule.makeGenericClientConstructor(
    grpcServiceDefinition(RuntimeService, { rawMethods: ["session"] }),
    "RuntimeService",
  );
  const target = options.network === "unix" ? `unix:${options.address}` : options.address;
  const client = new Client(target, grpcModule.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 64 * 1024 * 1024,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    "grpc.enable_retries": 0,
  });
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + options.connectTimeoutMs, (error) =>
      error ? reject(error) : resolve(),
    ),
  );

  const metadataFor = (callOptions: CallOptions | undefined): grpc.Metadata => {
    const metadata = new grpcModule.Metadata();
    const token = callOptions?.token === undefined ? options.token : callOptions.token;
    if (token !== null) metadata.set(TOKEN_METADATA_KEY, token);
    return metadata;
  };
  const deadline = (callOptions: CallOptions | undefined) => ({
    deadline: Date.now() + (callOptions?.timeoutMs ?? 15_000),
  });

  return {
    call: (method, request, callOptions) =>
      new Promise((resolve, reject) => {
        type Unary = (
          request: unknown,
          metadata: grpc.Metadata,
          options: grpc.CallOptions,
          callback: (error: grpc.ServiceError | null, response: never) => void,
        ) => void;
        const unary = (client as unknown as Record<string, Unary>)[method]!;
        unary.call(client, request, metadataFor(callOptions), deadline(callOptions), (error, response) =>
          error ? reject(toCallError(error)) : resolve(response),
        );
      }),
    callRaw: <M extends keyof UnaryMethods>(method: M, request: Uint8Array, callOptions?: CallOptions) =>
      new Promise<UnaryMethods[M]>((resolve, reject) => {
        const descriptor = RuntimeService.methods.find((candidate) => candidate.localName === method)!;
        client.makeUnaryRequest(
          `/${RuntimeService.typeName}/${descriptor.name}`,
          (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          (bytes: Buffer) => fromBinary(RESPONSE_SCHEMAS[method], bytes) as MessageShape<DescMessage>,
          request,
          metadataFor(callOptions),
          deadline(callOptions),
          (error, response) =>
            error ? reject(toCallError(error)) : resolve(response as unknown as UnaryMethods[M]),
        );
      }),
    openSession: (callOptions) =>
      createSessionDriver(
        client.makeBidiStreamRequest(
          `/${RuntimeService.typeName}/Session`,
          (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          (bytes: Buffer) => bytes,
          metadataFor(callOptions),
        ) as grpc.ClientDuplexStream<Uint8Array, Uint8Array>,
        (error) => toCallError(error as grpc.ServiceError),
      ),
    close: () => client.close(),
  };
}

function toCallError(error: grpc.ServiceError): CallError {
  const code = typeof error.code === "number" ? error.code : -1;
  return { code, status: STATUS_NAMES[code] ?? `status ${code}`, details: error.details ?? error.message };
}

/** Whether a rejection is a gRPC error of the kit's client. */
export function isCallError(error: unknown): error is CallError {
  return typeof error === "object" && error !== null && "status" in error && "details" in error;
}
