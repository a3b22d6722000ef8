/**
 * A small OTLP/HTTP receiver for tests: accepts `POST /v1/traces` and `POST /v1/metrics` in protobuf (what the
 * Node, Python and Rust exporters send by default) on 127.0.0.1 and keeps the spans and metric points. The messages
 * are read with protobuf-es's wire reader, following opentelemetry-proto's field numbers (trace/v1/trace.proto,
 * metrics/v1/metrics.proto, common/v1/common.proto), because the OpenTelemetry npm packages encode OTLP but offer
 * no decoder.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { BinaryReader, type WireType } from "@bufbuild/protobuf/wire";

/** One received span, with ids as lowercase hex. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  events: string[];
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  links: { traceId: string; spanId: string }[];
}

/** One data point of a received metric: a sum's or gauge's value, or a histogram's count and sum. */
export interface ReceivedMetricPoint {
  service: string;
  /** The metric's name, e.g. `conductor.executions.finished`. */
  name: string;
  unit: string;
  kind: "gauge" | "sum" | "histogram" | "other";
  attributes: Record<string, string | number | boolean>;
  /** A sum's or gauge's value; a histogram's count. */
  value: number;
  /** A histogram's sum. */
  sum?: number;
}

export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  /** Every data point of every metrics export received, in order (a cumulative point repeats in each export). */
  readonly metrics: ReceivedMetricPoint[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics: ReceivedMetricPoint[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.method === "POST" && request.url === "/v1/traces") {
        spans.push(...decodeTraces(new Uint8Array(Buffer.concat(chunks))));
        response.writeHead(200, { "content-type": "application/x-protobuf" });
        response.end();
      } else if (request.method === "POST" && request.url === "/v1/metrics") {
        metrics.push(...decodeMetrics(new Uint8Array(Buffer.concat(chunks))));
        response.writeHead(200, { "content-type": "application/x-protobuf" });
        response.end();
      } else {
        response.writeHead(404);
        response.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    metrics,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** Reads the fields of one length-delimited message, calling `field` for each. */
function readMessage(reader: BinaryReader, field: (number: number, wireType: WireType) => void): void {
  const end = reader.uint32() + reader.pos;
  while (reader.pos < end) {
    const [number, wireType] = reader.tag();
    field(number, wireType);
  }
}

function readAnyValue(reader: BinaryReader): string | number | boolean {
  let value: string | number | boolean = "";
  readMessage(reader, (number, wireType) => {
    if (number === 1) value = reader.string();
    else if (number === 2) value = reader.bool();
    else if (number === 3) value = Number(reader.int64());
    else if (number === 4) value = reader.double();
    else reader.skip(wireType, number);
  });
  return value;
}

function readKeyValue(reader: BinaryReader, into: Record<string, string | number | boolean>): void {
  let key = "";
  let value: string | number | boolean = "";
  readMessage(reader, (number, wireType) => {
    if (number === 1) key = reader.string();
    else if (number === 2) value = readAnyValue(reader);
    else reader.skip(wireType, number);
  });
  into[key] = value;
}

/** Decodes an ExportTraceServiceRequest into its spans. */
export function decodeTraces(bytes: Uint8Array): ReceivedSpan[] {
  const reader = new BinaryReader(bytes);
  const spans: ReceivedSpan[] = [];
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (number !== 1) {
      reader.skip(wireType, number);
      continue;
    }
    // ResourceSpans: resource = 1, scope_spans = 2.
    const resource: Record<string, string | number | boolean> = {};
    const found: ReceivedSpan[] = [];
    readMessage(reader, (resourceField, resourceWire) => {
      if (resourceField === 1) {
        readMessage(reader, (attributeField, attributeWire) => {
          if (attributeField === 1) readKeyValue(reader, resource);
          else reader.skip(attributeWire, attributeField);
        });
      } else if (resourceField === 2) {
        // ScopeSpans: spans = 2.
        readMessage(reader, (scopeField, scopeWire) => {
          if (scopeField === 2) found.push(readSpan(reader));
          else reader.skip(scopeWire, scopeField);
        });
      } else reader.skip(resourceWire, resourceField);
    });
    for (const span of found) span.service = String(resource["service.name"] ?? "");
    spans.push(...found);
  }
  return spans;
}

function readSpan(reader: BinaryReader): ReceivedSpan {
  const span: ReceivedSpan = {
    service: "",
    traceId: "",
    spanId: "",
    parentSpanId: "",
    name: "",
    kind: 0,
    attributes: {},
    events: [],
    statusCode: 0,
    links: [],
  };
  readMessage(reader, (number, wireType) => {
    switch (number) {
      case 1:
        span.traceId = hex(reader.bytes());
        break;
      case 2:
        span.spanId = hex(reader.bytes());
        break;
      case 4:
        span.parentSpanId = hex(reader.bytes());
        break;
      case 5:
        span.name = reader.string();
        break;
      case 6:
        span.kind = reader.int32();
        break;
      case 9:
        readKeyValue(reader, span.attributes);
        break;
      case 11:
        // Event: name = 2.
        readMessage(reader, (eventField, eventWire) => {
          if (eventField === 2) span.events.push(reader.string());
          else reader.skip(eventWire, eventField);
        });
        break;
      case 13: {
        // Link: trace_id = 1, span_id = 2.
        const link = { traceId: "", spanId: "" };
        readMessage(reader, (linkField, linkWire) => {
          if (linkField === 1) link.traceId = hex(reader.bytes());
          else if (linkField === 2) link.spanId = hex(reader.bytes());
          else reader.skip(linkWire, linkField);
        });
        span.links.push(link);
        break;
      }
      case 15:
        // Status: code = 3.
        readMessage(reader, (statusField, statusWire) => {
          if (statusField === 3) span.statusCode = reader.int32();
          else reader.skip(statusWire, statusField);
        });
        break;
      default:
        reader.skip(wireType, number);
    }
  });
  return span;
}

/** Decodes an ExportMetricsServiceRequest into its data points. */
export function decodeMetrics(bytes: Uint8Array): ReceivedMetricPoint[] {
  const reader = new BinaryReader(bytes);
  const points: ReceivedMetricPoint[] = [];
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (number !== 1) {
      reader.skip(wireType, number);
      continue;
    }
    // ResourceMetrics: resource = 1, scope_metrics = 2.
    const resource: Record<string, string | number | boolean> = {};
    const found: ReceivedMetricPoint[] = [];
    readMessage(reader, (resourceField, resourceWire) => {
      if (resourceField === 1) {
        readMessage(reader, (attributeField, attributeWire) => {
          if (attributeField === 1) readKeyValue(reader, resource);
          else reader.skip(attributeWire, attributeField);
        });
      } else if (resourceField === 2) {
        // ScopeMetrics: metrics = 2.
        readMessage(reader, (scopeField, scopeWire) => {
          if (scopeField === 2) found.push(...readMetric(reader));
          else reader.skip(scopeWire, scopeField);
        });
      } else reader.skip(resourceWire, resourceField);
    });
    for (const point of found) point.service = String(resource["service.name"] ?? "");
    points.push(...found);
  }
  return points;
}

/** Metric: name = 1, unit = 3, gauge = 5, sum = 7, histogram = 9 (each with data_points = 1). */
function readMetric(reader: BinaryReader): ReceivedMetricPoint[] {
  let name = "";
  let unit = "";
  const points: ReceivedMetricPoint[] = [];
  readMessage(reader, (number, wireType) => {
    if (number === 1) name = reader.string();
    else if (number === 3) unit = reader.string();
    else if (number === 5 || number === 7 || number === 9) {
      const kind = number === 5 ? "gauge" : number === 7 ? "sum" : "histogram";
      readMessage(reader, (dataField, dataWire) => {
        if (dataField === 1)
          points.push(kind === "histogram" ? readHistogramPoint(reader) : readNumberPoint(reader, kind));
        else reader.skip(dataWire, dataField);
      });
    } else reader.skip(wireType, number);
  });
  for (const point of points) {
    point.name = name;
    point.unit = unit;
  }
  return points;
}

/** NumberDataPoint: as_double = 4, as_int = 6 (sfixed64), attributes = 7. */
function readNumberPoint(reader: BinaryReader, kind: "gauge" | "sum"): ReceivedMetricPoint {
  const point: ReceivedMetricPoint = { service: "", name: "", unit: "", kind, attributes: {}, value: 0 };
  readMessage(reader, (number, wireType) => {
    if (number === 4) point.value = reader.double();
    else if (number === 6) point.value = Number(reader.sfixed64());
    else if (number === 7) readKeyValue(reader, point.attributes);
    else reader.skip(wireType, number);
  });
  return point;
}

/** HistogramDataPoint: count = 4 (fixed64), sum = 5, attributes = 9. */
function readHistogramPoint(reader: BinaryReader): ReceivedMetricPoint {
  const point: ReceivedMetricPoint = {
    service: "",
    name: "",
    unit: "",
    kind: "histogram",
    attributes: {},
    value: 0,
  };
  readMessage(reader, (number, wireType) => {
    if (number === 4) point.value = Number(reader.fixed64());
    else if (number === 5) point.sum = reader.double();
    else if (number === 9) readKeyValue(reader, point.attributes);
    else reader.skip(wireType, number);
  });
  return point;
}
