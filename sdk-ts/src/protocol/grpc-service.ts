import { type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ServiceDefinition } from "@grpc/grpc-js";

/**
 * Builds a grpc-js service definition from a protobuf-es service descriptor, so grpc-js (the fastest Node gRPC
 * transport measured for this ABI) carries protobuf-es messages. Used by the host's client and by `serveRuntime`.
 */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, ServiceDefinition[string]> = {};
  for (const method of service.methods) {
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
