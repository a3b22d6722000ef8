import { SpanKind } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { decodeTraces } from "../../../test/telemetry/otlp-receiver.js";
import { attributeChunk, LeanSpan, type LeanSpanSink, leanRoot, NO_CHUNK } from "./lean-span.js";
import { type EncodedSpansExporter, LeanSpanBatch, type LeanSpanBatchSettings } from "./lean-span-batch.js";
import type { EncodedSpans } from "./lean-span-encoder.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

/** A batch whose exports are recorded and answered when the test says. */
function batchOf(settings: Partial<LeanSpanBatchSettings> = {}) {
  const sent: EncodedSpans[] = [];
  const answers: (() => void)[] = [];
  const exporter: EncodedSpansExporter = {
    export(spans, done) {
      sent.push(spans);
      answers.push(() => done({ code: 0 }));
    },
    shutdown: () => Promise.resolve(),
  };
  let batch: LeanSpanBatch | undefined;
  const sink: LeanSpanSink = {
    resource: { attributes: { "service.name": "conductor" } },
    instrumentationScope: { name: "conductor" },
    ended: (span) => batch!.add(span),
  };
  batch = new LeanSpanBatch(sink, exporter, {
    scheduledDelayMillis: 60_000,
    maxExportBatchSize: 3,
    maxQueueSize: 100,
    ...settings,
  });
  const root = leanRoot(TRACE, undefined, undefined);
  const end = (name: string) =>
    new LeanSpan(
      sink,
      name,
      SpanKind.INTERNAL,
      root,
      undefined,
      attributeChunk({ n: name }),
      NO_CHUNK,
      NO_CHUNK,
      {
        own: 1,
      },
    ).end();
  const names = (spans: EncodedSpans) => decodeTraces(spans.bytes).map((span) => span.name);
  return { batch, sent, answers, end, names };
}

/** After the current turn of the event loop (when the batch encodes what ended in it). */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("LeanSpanBatch", () => {
  it("encodes spans after the turn they ended in and sends a batch when it is full, one export at a time", async () => {
    const { batch, sent, answers, end, names } = batchOf();
    for (const name of ["a", "b", "c", "d", "e", "f", "g"]) end(name);
    expect(sent).toHaveLength(0);
    await turn();
    // Two full batches: the first is sent, the second waits for its answer; "g" waits for more spans.
    expect(sent.map(names)).toEqual([["a", "b", "c"]]);
    answers.shift()!();
    expect(sent.map(names)).toEqual([
      ["a", "b", "c"],
      ["d", "e", "f"],
    ]);
    expect(sent.map((spans) => spans.length)).toEqual([3, 3]);
    answers.shift()!();
    const flushed = batch.flush();
    answers.shift()!();
    await flushed;
    expect(sent.map(names)).toEqual([["a", "b", "c"], ["d", "e", "f"], ["g"]]);
    const [first] = decodeTraces(sent[0]!.bytes);
    expect(first).toMatchObject({ traceId: TRACE, attributes: { n: "a", own: 1 } });
  });

  it("drops the spans that end while the queue is full, and takes spans again once it has room", async () => {
    const { batch, sent, answers, end, names } = batchOf({ maxExportBatchSize: 2, maxQueueSize: 4 });
    for (const name of ["a", "b", "c", "d", "e", "f"]) end(name);
    await turn();
    expect(sent.map(names)).toEqual([["a", "b"]]);
    answers.shift()!();
    answers.shift()!();
    end("g");
    const flushed = batch.flush();
    answers.shift()!();
    await flushed;
    expect(sent.map(names)).toEqual([["a", "b"], ["c", "d"], ["g"]]);
  });
});
