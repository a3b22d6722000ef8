import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import {
  type CancelExecutionRequestSchema,
  type CancelExecutionResponse,
  ConductorService,
  type GetBlueprintRequestSchema,
  type GetBlueprintResponse,
  type GetExecutionRequestSchema,
  type GetExecutionResponse,
  type ListBlueprintsRequestSchema,
  type ListBlueprintsResponse,
  type ListExecutionsRequestSchema,
  type ListExecutionsResponse,
  type ListNodeTypesRequestSchema,
  type ListNodeTypesResponse,
  type ListSchedulesRequestSchema,
  type ListSchedulesResponse,
  type ListWorkersRequestSchema,
  type ListWorkersResponse,
  type PreviewValueRequestSchema,
  type PreviewValueResponse,
  type ReadValueRequestSchema,
  type ReadValueResponse,
  type RunExecutionRequestSchema,
  type RunExecutionResponse,
  type StartExecutionRequestSchema,
  type StartExecutionResponse,
  type UploadValueRequestSchema,
  type UploadValueResponse,
  type ValidateBlueprintRequestSchema,
  type ValidateBlueprintResponse,
  type WatchExecutionRequestSchema,
  type WatchExecutionResponse,
} from "@conductor/sdk/client";
import { grpcServiceDefinition } from "@conductor/sdk/protocol";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import {
  credentials,
  type Client as GrpcClient,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";

type Init<S extends DescMessage> = MessageInitShape<S>;
type Methods = typeof ConductorService.method;
/** The local names of the service's unary RPCs. */
export type UnaryMethod = {
  [K in keyof Methods]: Methods[K]["methodKind"] extends "unary" ? K : never;
}[keyof Methods];

/**
 * The API as the tests call it, the same over each protocol, so one test list runs against all three. Errors are
 * normalised to `{ code, message }` with the gRPC/Connect numeric code (they are the same numbers).
 */
export interface ProtocolClient {
  readonly name: string;
  startExecution(request: Init<typeof StartExecutionRequestSchema>): Promise<StartExecutionResponse>;
  runExecution(request: Init<typeof RunExecutionRequestSchema>): Promise<RunExecutionResponse>;
  watchExecution(request: Init<typeof WatchExecutionRequestSchema>): AsyncIterable<WatchExecutionResponse>;
  getExecution(request: Init<typeof GetExecutionRequestSchema>): Promise<GetExecutionResponse>;
  listExecutions(request: Init<typeof ListExecutionsRequestSchema>): Promise<ListExecutionsResponse>;
  cancelExecution(request: Init<typeof CancelExecutionRequestSchema>): Promise<CancelExecutionResponse>;
  listNodeTypes(request: Init<typeof ListNodeTypesRequestSchema>): Promise<ListNodeTypesResponse>;
  validateBlueprint(request: Init<typeof ValidateBlueprintRequestSchema>): Promise<ValidateBlueprintResponse>;
  listBlueprints(request: Init<typeof ListBlueprintsRequestSchema>): Promise<ListBlueprintsResponse>;
  getBlueprint(request: Init<typeof GetBlueprintRequestSchema>): Promise<GetBlueprintResponse>;
  listSchedules(request: Init<typeof ListSchedulesRequestSchema>): Promise<ListSchedulesResponse>;
  listWorkers(request: Init<typeof ListWorkersRequestSchema>): Promise<ListWorkersResponse>;
  readValue(request: Init<typeof ReadValueRequestSchema>): AsyncIterable<ReadValueResponse>;
  previewValue(request: Init<typeof PreviewValueRequestSchema>): Promise<PreviewValueResponse>;
  /** A client stream: the messages are sent, then the answer awaited. */
  uploadValue(requests: Init<typeof UploadValueRequestSchema>[]): Promise<UploadValueResponse>;
  /** Any unary RPC by its local name (deploy, listKeys, setSecret, ...). */
  unary<K extends UnaryMethod>(
    method: K,
    request: Init<Methods[K]["input"]>,
  ): Promise<MessageShape<Methods[K]["output"]>>;
  close(): void;
}

/** A failed call, the same for every protocol. */
export class CallError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export type ProtocolName = "connect" | "grpc-web" | "grpc";

/** A client of `baseUrl` speaking one protocol: Connect (JSON, HTTP/1.1), gRPC-Web (HTTP/1.1) or gRPC (grpc-js, h2c). */
export function protocolClient(protocol: ProtocolName, baseUrl: string, token?: string): ProtocolClient {
  if (protocol === "grpc") return grpcJsClient(baseUrl, token);
  const interceptors =
    token === undefined
      ? []
      : [
          (next: Parameters<import("@connectrpc/connect").Interceptor>[0]) =>
            (request: Parameters<ReturnType<import("@connectrpc/connect").Interceptor>>[0]) => {
              request.header.set("authorization", `Bearer ${token}`);
              return next(request);
            },
        ];
  const transport =
    protocol === "connect"
      ? createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors })
      : createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors });
  const client = createClient(ConductorService, transport);
  const wrap =
    <Req, Res>(call: (request: Req) => Promise<Res>) =>
    async (request: Req): Promise<Res> => {
      try {
        return await call(request);
      } catch (error) {
        throw normalise(error);
      }
    };
  return {
    name: protocol,
    startExecution: wrap((r) => client.startExecution(r)),
    runExecution: wrap((r) => client.runExecution(r)),
    async *watchExecution(request) {
      try {
        yield* client.watchExecution(request);
      } catch (error) {
        throw normalise(error);
      }
    },
    getExecution: wrap((r) => client.getExecution(r)),
    listExecutions: wrap((r) => client.listExecutions(r)),
    cancelExecution: wrap((r) => client.cancelExecution(r)),
    listNodeTypes: wrap((r) => client.listNodeTypes(r)),
    validateBlueprint: wrap((r) => client.validateBlueprint(r)),
    listBlueprints: wrap((r) => client.listBlueprints(r)),
    listSchedules: wrap((r) => client.listSchedules(r)),
    listWorkers: wrap((r) => client.listWorkers(r)),
    getBlueprint: wrap((r) => client.getBlueprint(r)),
    previewValue: wrap((r) => client.previewValue(r)),
    async *readValue(request) {
      try {
        yield* client.readValue(request);
      } catch (error) {
        throw normalise(error);
      }
    },
    uploadValue: wrap((requests) =>
      client.uploadValue(
        (async function* () {
          yield* requests;
        })(),
      ),
    ),
    unary: (method, request) =>
      wrap((r: typeof request) =>
        (
          client[method] as unknown as (
            r: typeof request,
          ) => Promise<MessageShape<Methods[typeof method]["output"]>>
        )(r),
      )(request),
    close() {},
  };
}

function normalise(error: unknown): CallError {
  if (error instanceof ConnectError) return new CallError(error.code, error.rawMessage);
  const grpc = error as ServiceError;
  // connect-es percent-encodes grpc-message with encodeURIComponent and grpc-js undoes it with decodeURI, which
  // leaves reserved characters such as ";" and "," encoded: decode the rest here.
  if (typeof grpc.code === "number") return new CallError(grpc.code, safeDecode(grpc.details));
  return new CallError(-1, String(error));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** grpc-js with a service definition built from the protobuf-es descriptors, over h2c. */
function grpcJsClient(baseUrl: string, token?: string): ProtocolClient {
  const Client = makeGenericClientConstructor(grpcServiceDefinition(ConductorService), "ConductorService");
  const client = new Client(new URL(baseUrl).host, credentials.createInsecure()) as GrpcClient &
    Record<string, (...args: unknown[]) => unknown>;
  const metadata = () => {
    const m = new Metadata();
    if (token !== undefined) m.set("authorization", `Bearer ${token}`);
    return m;
  };
  const unary =
    <S extends DescMessage, Res>(method: string, schema: S) =>
    (request: Init<S>): Promise<Res> =>
      new Promise((resolve, reject) => {
        client[method]!(
          create(schema, request) as MessageShape<S>,
          metadata(),
          (error: ServiceError | null, response: Res) =>
            error === null ? resolve(response) : reject(normalise(error)),
        );
      });
  const m = ConductorService.method;
  return {
    name: "grpc",
    startExecution: unary(m.startExecution.localName, m.startExecution.input),
    runExecution: unary(m.runExecution.localName, m.runExecution.input),
    async *watchExecution(request) {
      const stream = client[m.watchExecution.localName]!(
        create(m.watchExecution.input, request),
        metadata(),
      ) as AsyncIterable<WatchExecutionResponse>;
      try {
        yield* stream;
      } catch (error) {
        throw normalise(error);
      }
    },
    getExecution: unary(m.getExecution.localName, m.getExecution.input),
    listExecutions: unary(m.listExecutions.localName, m.listExecutions.input),
    cancelExecution: unary(m.cancelExecution.localName, m.cancelExecution.input),
    listNodeTypes: unary(m.listNodeTypes.localName, m.listNodeTypes.input),
    validateBlueprint: unary(m.validateBlueprint.localName, m.validateBlueprint.input),
    listBlueprints: unary(m.listBlueprints.localName, m.listBlueprints.input),
    listSchedules: unary(m.listSchedules.localName, m.listSchedules.input),
    listWorkers: unary(m.listWorkers.localName, m.listWorkers.input),
    getBlueprint: unary(m.getBlueprint.localName, m.getBlueprint.input),
    previewValue: unary(m.previewValue.localName, m.previewValue.input),
    async *readValue(request) {
      const stream = client[m.readValue.localName]!(
        create(m.readValue.input, request),
        metadata(),
      ) as AsyncIterable<ReadValueResponse>;
      try {
        yield* stream;
      } catch (error) {
        throw normalise(error);
      }
    },
    uploadValue: (requests) =>
      new Promise((resolve, reject) => {
        const call = client[m.uploadValue.localName]!(
          metadata(),
          (error: ServiceError | null, response: UploadValueResponse) =>
            error === null ? resolve(response) : reject(normalise(error)),
        ) as { write(message: unknown): void; end(): void };
        for (const request of requests) call.write(create(m.uploadValue.input, request));
        call.end();
      }),
    unary: (method, request) =>
      unary<Methods[typeof method]["input"], MessageShape<Methods[typeof method]["output"]>>(
        m[method].localName,
        m[method].input,
      )(request),
    close() {
      client.close();
    },
  };
}
