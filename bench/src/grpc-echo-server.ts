/**
 * The transport alone: a grpc-js server in a child process with one bidirectional stream method that writes back
 * every message it reads, as bytes (no protobuf). A round trip through it is what grpc-js costs over a Unix socket
 * before Conductor does anything; the dispatch benchmarks report it beside the raw socket floor.
 */
import * as grpc from "@grpc/grpc-js";

const path = process.argv[2]!;
const bytes = (value: Buffer) => value;
const server = new grpc.Server();
server.addService(
  {
    Echo: {
      path: "/bench.Echo/Echo",
      requestStream: true,
      responseStream: true,
      requestSerialize: bytes,
      requestDeserialize: bytes,
      responseSerialize: bytes,
      responseDeserialize: bytes,
    },
  },
  {
    Echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on("data", (message: Buffer) => call.write(message));
      call.on("end", () => call.end());
    },
  },
);
server.bindAsync(`unix:${path}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error !== null) throw error;
  process.stdout.write("ready\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
