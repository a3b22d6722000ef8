import { type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ServiceDefinition } from "@grpc/grpc-js";

/**
 * Builds a grpc-js service definition from a protobuf-es service descriptor, so grpc-js (the fastest Node gRPC
 * transport measured for this ABI) carries protobuf-es messages. Used by the host's client and by `serveRuntime`.
 */
export function grpcServiceDefinition(
  service: DescService,
  options: { rawMethods?: readonly string[] } = {},
): ServiceDefinition {
  const definition: Record<string, ServiceDefinition[string]> = {};
  const raw = (bytes: Buffer | Uint8Array) => bytes;
  for (const method of service.methods) {
    if (options.rawMethods?.includes(method.localName) === true) {
      // The caller encodes and decodes this method's messages itself (see session-request-codec.ts and session-response-codec.ts).
      definition[method.localName] = {
        path: `/${service.typeName}/${method.name}`,
        originalName: method.name,
        requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
        responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
        requestSerialize: (bytes: Uint8Array) =>
          Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        requestDeserialize: raw,
        responseSerialize: (bytes: Uint8Array) =>
          Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        responseDeserialize: raw,
      };
      continue;
    }
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.name,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: (message: Parameters<typeof toBinary>[1]) =>
        Buffer.from(toBinary(method.input, message)),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (message: Parameters<typeof toBinary>[1]) =>
        Buffer.from(toBinary(method.output, message)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
  }
  return definition as ServiceDefinition;
}
