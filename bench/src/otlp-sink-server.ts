/**
 * An OTLP/HTTP trace receiver in a child process for the telemetry benchmark: it takes `POST /v1/traces`
 * (protobuf), counts the spans of each service and answers 200. In a process of its own, because a collector is
 * one: its parsing must not be counted as the host's work. `GET /counts` gives the counts so far as JSON, so the
 * benchmark can check that no span was dropped. Prints the port on stdout when it listens; exits when stdin closes.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

const counts: Record<string, number> = {};

/** Calls `field` for each field of the message that `reader` reads up to `end`, skipping the fields it does not read. */
function fields(reader: BinaryReader, end: number, field: (number: number) => boolean): void {
  while (reader.pos < end) {
    const [number, wireType] = reader.tag();
    if (wireType !== WireType.LengthDelimited || !field(number)) reader.skip(wireType);
  }
}

function within(reader: BinaryReader, read: (end: number) => void): void {
  const length = reader.uint32();
  read(reader.pos + length);
}

// ExportTraceServiceRequest.resource_spans (1) → ResourceSpans.resource (1) → Resource.attributes (1) → KeyValue
// key (1) and value (2) → AnyValue.string_value (1); ResourceSpans.scope_spans (2) → ScopeSpans.spans (2).
function countSpans(bytes: Uint8Array): void {
  const reader = new BinaryReader(bytes);
  fields(reader, bytes.length, (number) => {
    if (number !== 1) return false;
    within(reader, (resourceSpansEnd) => {
      let service = "";
      let spans = 0;
      fields(reader, resourceSpansEnd, (resourceField) => {
        if (resourceField === 1) {
          within(reader, (resourceEnd) =>
            fields(reader, resourceEnd, (attributeField) => {
              if (attributeField !== 1) return false;
              within(reader, (keyValueEnd) => {
                let key = "";
                fields(reader, keyValueEnd, (keyValueField) => {
                  if (keyValueField === 1) key = reader.string();
                  else if (keyValueField === 2 && key === "service.name")
                    within(reader, (valueEnd) =>
                      fields(reader, valueEnd, (valueField) => {
                        if (valueField !== 1) return false;
                        service = reader.string();
                        return true;
                      }),
                    );
                  else return false;
                  return true;
                });
              });
              return true;
            }),
          );
          return true;
        }
        if (resourceField !== 2) return false;
        within(reader, (scopeSpansEnd) =>
          fields(reader, scopeSpansEnd, (scopeField) => {
            if (scopeField !== 2) return false;
            reader.bytes();
            spans++;
            return true;
          }),
        );
        return true;
      });
      counts[service] = (counts[service] ?? 0) + spans;
    });
    return true;
  });
}

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    if (request.method === "GET" && request.url === "/counts") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(counts));
      return;
    }
    if (request.method === "POST" && request.url === "/v1/traces") countSpans(Buffer.concat(chunks));
    response.writeHead(200, { "content-type": "application/x-protobuf" });
    response.end();
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
