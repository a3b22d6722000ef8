import type { Attributes } from "@opentelemetry/api";
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import { ProtobufTraceSerializer, TraceExporterMetricsHelper } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { LeanSpan, type LeanSpanSink } from "./lean-span.js";
import { OtlpWriter } from "./otlp-span-writer.js";

interface Resource {
  attributes?: Attributes;
  schemaUrl?: string;
}

interface Scope {
  name: string;
  version?: string;
  schemaUrl?: string;
  attributes?: Attributes;
  droppedAttributesCount?: number;
}

/**
 * Encodes a batch of spans as an OTLP `ExportTraceServiceRequest` (protobuf): the host's {@link LeanSpan}s with
 * their own encoder (shared attributes copied as encoded once), any other span (the SDK's: the execution's, and
 * those node code makes in the host) with OpenTelemetry's serializer. The two parts are concatenated, which protobuf
 * reads as one request whose `resource_spans` are both parts' (a repeated field's occurrences append).
 */
export function encodeSpans(spans: readonly ReadableSpan[]): Uint8Array {
  const others: ReadableSpan[] = [];
  const bySink = new Map<LeanSpanSink, LeanSpan[]>();
  for (const span of spans) {
    if (span instanceof LeanSpan) {
      const group = bySink.get(span.sink);
      if (group === undefined) bySink.set(span.sink, [span]);
      else group.push(span);
    } else others.push(span);
  }
  const writer = new OtlpWriter(512 + 448 * spans.length);
  if (others.length > 0) {
    const encoded = ProtobufTraceSerializer.serializeRequest(others);
    if (encoded !== undefined) writer.raw(encoded);
  }
  for (const [sink, group] of bySink)
    writeResourceSpans(writer, sink, () => {
      for (const span of group) span.encode(writer);
    });
  return writer.finish();
}

/** A `ResourceSpans` of the sink's resource and scope, whose spans `spans` writes. */
function writeResourceSpans(writer: OtlpWriter, sink: LeanSpanSink, spans: () => void): void {
  writer.tag(1, 2);
  const resourceSpansAt = writer.begin();
  const resource = sink.resource as Resource;
  writer.tag(1, 2);
  const resourceAt = writer.begin();
  if (resource.attributes !== undefined) writer.attributes(resource.attributes, 1);
  writer.tag(2, 0);
  writer.varint(0);
  writer.end(resourceAt);
  writer.tag(2, 2);
  const scopeSpansAt = writer.begin();
  const scope = sink.instrumentationScope as Scope;
  writer.tag(1, 2);
  const scopeAt = writer.begin();
  writer.tag(1, 2);
  writer.string(scope.name);
  if (scope.version) {
    writer.tag(2, 2);
    writer.string(scope.version);
  }
  if (scope.attributes !== undefined) writer.attributes(scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    writer.tag(4, 0);
    writer.varint(scope.droppedAttributesCount);
  }
  writer.end(scopeAt);
  spans();
  if (scope.schemaUrl) {
    writer.tag(3, 2);
    writer.string(scope.schemaUrl);
  }
  writer.end(scopeSpansAt);
  if (resource.schemaUrl) {
    writer.tag(3, 2);
    writer.string(resource.schemaUrl);
  }
  writer.end(resourceSpansAt);
}

/**
 * The host's OTLP/HTTP (protobuf) span exporter: OpenTelemetry's HTTP export (the OTEL_EXPORTER_OTLP_* endpoint,
 * headers, timeout, compression and retries, as `OTLPTraceExporter` reads them) with {@link encodeSpans} as its
 * serializer.
 */
export function createLeanOtlpExporter(): OTLPExporterBase<ReadableSpan[]> {
  return new OTLPExporterBase(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({}, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" }),
      { serializeRequest: encodeSpans, deserializeResponse: ProtobufTraceSerializer.deserializeResponse },
      "otlp_http_span_exporter",
      TraceExporterMetricsHelper,
      undefined,
    ),
  );
}
