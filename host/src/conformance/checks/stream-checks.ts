import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type CommandSchema,
  type Event,
  FEATURES,
  loadArrow,
  tableFromIpc,
  tableToIpc,
  type Value,
} from "@conductor/sdk/protocol";
import type { Table } from "apache-arrow";
import { CheckFailure, type ConformanceCheck, expectEqual, expectThat, show } from "../conformance-check.js";
import {
  checkGrammar,
  expectFailure,
  failureOf,
  given,
  json,
  jsonTextOf,
  type StepInit,
  step,
  terminal,
} from "../kit-messages.js";
import { describeEvents, type SessionDriver } from "../session-driver.js";

/**
 * Streams on the session (docs/protocol.md §3.5), for runtimes announcing `stream.credits`: the stream node types
 * of the kitchen sink (`conformance.count`, `conformance.sum`, `conformance.scale`), credits held on both sides,
 * the end, failures both ways, Cancel mid-stream, early stop, and Arrow batches through a stream.
 */

type Command = MessageInitShape<typeof CommandSchema>;

const count = (n: number, failAt?: number, checkpointEvery?: number): StepInit =>
  step(
    "count",
    "conformance.count",
    {},
    {
      n: given(json(n)),
      ...(failAt === undefined ? {} : { failAt: given(json(failAt)) }),
      ...(checkpointEvery === undefined ? {} : { checkpointEvery: given(json(checkpointEvery)) }),
    },
  );

/** Each checkpoint on `port` as [the items sent before it, its state]. */
const checkpointsOf = (events: readonly Event[], port: string): [number, unknown][] => {
  const marks: [number, unknown][] = [];
  let sent = 0;
  for (const event of events) {
    if (event.kind.case === "chunk" && event.kind.value.port === port) sent++;
    else if (event.kind.case === "checkpoint" && event.kind.value.port === port)
      marks.push([
        sent,
        JSON.parse(jsonTextOf(event.kind.value.state, `the state of a checkpoint of "${port}"`)),
      ]);
  }
  return marks;
};

const streamInput = (nodeId: string, port: string) => ({
  source: { case: "stream" as const, value: { nodeId, port } },
});

const credit = (invocationId: bigint, port: string, credits: number): Command => ({
  kind: { case: "credit", value: { invocationId, step: 0, port, credits } },
});

const items = (
  invocationId: bigint,
  port: string,
  values: Value[],
  end = false,
  failure?: { message: string; type: string; retryable: boolean },
): Command => ({
  kind: {
    case: "streamItems",
    value: { invocationId, step: 0, port, items: values, end, ...(failure === undefined ? {} : { failure }) },
  },
});

/** Starts an invocation with commands sent in the same SessionRequest as its Execute. */
function executeWith(session: SessionDriver, steps: StepInit[], more: (id: bigint) => Command[]): bigint {
  const id = session.nextId();
  session.send([{ kind: { case: "execute", value: { invocationId: id, steps } } }, ...more(id)]);
  return id;
}

const chunks = (events: readonly Event[], port: string) =>
  events.filter((event) => event.kind.case === "chunk" && event.kind.value.port === port);

const chunkValues = (events: readonly Event[], port: string): unknown[] =>
  chunks(events, port).map((event) =>
    JSON.parse(
      jsonTextOf(event.kind.case === "chunk" ? event.kind.value.value : undefined, `an item of "${port}"`),
    ),
  );

/** The credits granted by the runtime's Credit events on `port`, in all. */
const granted = (events: readonly Event[], port: string): number =>
  events.reduce(
    (total, event) =>
      event.kind.case === "credit" && event.kind.value.port === port
        ? total + event.kind.value.credits
        : total,
    0,
  );

/** A round trip on the session: an invocation that ends, so the runtime has read what was sent before it. */
async function roundTrip(session: SessionDriver, patienceMs: number): Promise<void> {
  const id = session.execute({
    steps: [step("sum", "conformance.add", {}, { a: given(json(1)), b: given(json(2)) })],
  });
  const events = await session.waitForEnd(id, patienceMs);
  expectThat(events.at(-1)?.kind.case === "completed", "an invocation beside the stream completed", () =>
    describeEvents(events),
  );
}

/** Two record batches: `id: int64`, `value: float64` (with a null), `label: utf8`. */
function batches(): Table[] {
  const arrow = loadArrow();
  const make = (ids: bigint[], values: (number | null)[], labels: string[]) =>
    new arrow.Table({
      id: arrow.vectorFromArray(ids, new arrow.Int64()),
      value: arrow.vectorFromArray(values, new arrow.Float64()),
      label: arrow.vectorFromArray(labels, new arrow.Utf8()),
    });
  return [make([0n, 1n], [0.5, null], ["row-0", "row-1"]), make([2n], [2.25], ["row-2"])];
}

function describeTable(table: Table): string {
  return show({
    types: table.schema.fields.map((field) => `${field.name}: ${field.type}`),
    rows: table.toArray().map((row) => row.toJSON()),
  });
}

export const streamChecks: ConformanceCheck[] = [
  {
    id: "stream.discovery",
    title:
      "conformance.count, conformance.sum and conformance.scale declare their stream ports with Port.stream and item schemas",
    feature: FEATURES.streams,
    async run({ shared }) {
      const { nodeTypes } = await shared();
      const find = (type: string) => {
        const found = nodeTypes.get(type);
        if (found === undefined) throw new CheckFailure(`node type ${type}`, "not served");
        return found;
      };
      const streamsOf = (ports: readonly { name: string; stream: boolean }[]) =>
        Object.fromEntries(ports.map((port) => [port.name, port.stream]));
      const countType = find("conformance.count");
      expectEqual(
        streamsOf(countType.outputs),
        { items: true, total: false },
        "conformance.count outputs (stream flags)",
      );
      const itemSchema = JSON.parse(countType.outputs.find((port) => port.name === "items")!.schema) as {
        type?: string;
      };
      expectEqual(itemSchema.type, "integer", 'the item schema of conformance.count "items" has type');
      const sumType = find("conformance.sum");
      expectEqual(
        streamsOf(sumType.inputs),
        { items: true, limit: false },
        "conformance.sum inputs (stream flags)",
      );
      const scaleType = find("conformance.scale");
      expectEqual(
        streamsOf(scaleType.inputs),
        { batches: true, factor: false },
        "conformance.scale inputs (stream flags)",
      );
      expectEqual(
        streamsOf(scaleType.outputs),
        { batches: true },
        "conformance.scale outputs (stream flags)",
      );
    },
  },
  {
    id: "stream.output-ends",
    title: "a stream output sends its items in order as chunks, then completed with the plain outputs only",
    feature: FEATURES.streams,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = executeWith(session, [count(5)], (id) => [credit(id, "items", 64)]);
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectEqual(chunkValues(events, "items"), [0, 1, 2, 3, 4], "the items of the stream");
      const last = terminal(events, "completed");
      expectThat(last.kind.case === "completed", "completed after the last item", () =>
        describeEvents(events),
      );
      expectEqual(
        Object.keys(last.kind.value.outputs).sort(),
        ["total"],
        "the ports of completed (the stream port left out)",
      );
      expectEqual(JSON.parse(jsonTextOf(last.kind.value.outputs.total, "total")), 5, "total");
    },
  },
  {
    id: "stream.credits-held",
    title:
      "a stream output sends no more items than granted (4 credits: exactly 4 items, even after a round trip), and goes on with more credits",
    feature: FEATURES.streams,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = executeWith(session, [count(10)], (id) => [credit(id, "items", 4)]);
      await session.waitUntil(
        () => chunks(session.events(id), "items").length >= 4,
        "4 items within the 4 credits granted",
        patienceMs,
        () => describeEvents(session.events(id)),
      );
      // The runtime has read and run everything sent before this invocation ends: an item beyond the credits
      // would have had every chance to come.
      await roundTrip(session, patienceMs);
      await roundTrip(session, patienceMs);
      expectEqual(chunkValues(session.events(id), "items"), [0, 1, 2, 3], "the items sent with 4 credits");
      expectThat(!session.ended(id), "the step still open, waiting for credits", () =>
        describeEvents(session.events(id)),
      );
      session.send([credit(id, "items", 2)]);
      await session.waitUntil(
        () => chunks(session.events(id), "items").length >= 6,
        "2 more items after 2 more credits",
        patienceMs,
        () => describeEvents(session.events(id)),
      );
      await roundTrip(session, patienceMs);
      expectEqual(chunks(session.events(id), "items").length, 6, "items after 6 credits in all");
      session.send([credit(id, "items", 100)]);
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectEqual(chunkValues(events, "items"), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "every item, in order");
      expectThat(terminal(events, "completed").kind.case === "completed", "completed", () =>
        describeEvents(events),
      );
    },
  },
  {
    id: "stream.output-fails",
    title:
      "a generator failing after failAt items sends those items, then failed (conformance.stream-failed, not retryable)",
    feature: FEATURES.streams,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = executeWith(session, [count(10, 3)], (id) => [credit(id, "items", 64)]);
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectEqual(chunkValues(events, "items"), [0, 1, 2], "the items before the failure");
      expectFailure(failureOf(terminal(events, "failed"), "failed", "failed after 3 items"), {
        type: "conformance.stream-failed",
        retryable: false,
        mentions: ["failed after 3 items"],
      });
    },
  },
  {
    id: "stream.checkpoints",
    title:
      "checkpoints a producer marks are sent between its items and cost no credit; a retry given Step.resume starts where the checkpoint said",
    feature: FEATURES.checkpoints,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      // 12 items and the end: 13 credits. A checkpoint that took one would hold the step before its end.
      const id = executeWith(session, [count(12, undefined, 5)], (id) => [credit(id, "items", 13)]);
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectEqual(
        chunkValues(events, "items"),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        "the items of the stream",
      );
      expectEqual(
        checkpointsOf(events, "items"),
        [
          [5, 5],
          [10, 10],
        ],
        "the checkpoints, as [items before it, state]",
      );
      expectThat(terminal(events, "completed").kind.case === "completed", "completed", () =>
        describeEvents(events),
      );
      const retry: StepInit = {
        nodeId: "count",
        nodeType: "conformance.count",
        attempt: 2,
        config: json({}),
        inputs: { n: given(json(12)), checkpointEvery: given(json(5)) },
        resume: [{ port: "items", offset: 10n, state: json(10) }],
      };
      const resumed = executeWith(session, [retry], (id) => [credit(id, "items", 64)]);
      const again = await session.waitForEnd(resumed, patienceMs);
      checkGrammar(again, 1);
      expectEqual(chunkValues(again, "items"), [10, 11], "the items of the retry resumed at state 10");
      expectThat(terminal(again, "completed").kind.case === "completed", "completed", () =>
        describeEvents(again),
      );
    },
  },
  {
    id: "stream.output-cancelled",
    title: "a Cancel while a stream output waits for credits ends the step cancelled",
    feature: FEATURES.streams,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = executeWith(session, [count(1_000_000)], (id) => [credit(id, "items", 2)]);
      await session.waitUntil(
        () => chunks(session.events(id), "items").length >= 2,
        "2 items",
        patienceMs,
        () => describeEvents(session.events(id)),
      );
      session.cancel(id, "the kit stops the stream");
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const last = terminal(events, "cancelled");
      expectThat(last.kind.case === "cancelled", "cancelled after the Cancel", () => describeEvents(events));
      expectEqual(chunks(events, "items").length, 2, "items (no more than the 2 credits)");
    },
  },
  {
    id: "stream.input-ends",
    title:
      "a stream input grants credits with Credit events, reads the StreamItems sent within them until end, then completes",
    feature: FEATURES.streams,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({
        steps: [step("sum", "conformance.sum", {}, { items: streamInput("count", "items") })],
      });
      // Sends 200 items, never more than the runtime granted: it must grant again as it reads.
      let sent = 0;
      let total = 0;
      while (sent < 200) {
        await session.waitUntil(
          () => granted(session.events(id), "items") > sent,
          `a Credit event on "items" granting more than the ${sent} items sent`,
          patienceMs,
          () => describeEvents(session.events(id)),
        );
        const room = Math.min(granted(session.events(id), "items"), 200) - sent;
        const batch: Value[] = [];
        for (let i = 0; i < room; i++) {
          batch.push(json(sent + i));
          total += sent + i;
        }
        sent += room;
        session.send([items(id, "items", batch, sent === 200)]);
      }
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const last = terminal(events, "completed");
      expectThat(last.kind.case === "completed", "completed", () => describeEvents(events));
      expectEqual(JSON.parse(jsonTextOf(last.kind.value.outputs.sum, "sum")), total, "sum");
      expectEqual(JSON.parse(jsonTextOf(last.kind.value.outputs.count, "count")), 200, "count");
    },
  },
  {
    id: "stream.input-upstream-failure",
    title:
      "a StreamItems failure reaches the node where it iterates: the step fails with stream.upstream, keeping its message",
    feature: FEATURES.streams,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({
        steps: [step("sum", "conformance.sum", {}, { items: streamInput("count", "items") })],
      });
      await session.waitUntil(
        () => granted(session.events(id), "items") >= 2,
        'a Credit event on "items"',
        patienceMs,
        () => describeEvents(session.events(id)),
      );
      session.send([
        items(id, "items", [json(1), json(2)], false, {
          message: "the producer broke at 2",
          type: "conformance.stream-failed",
          retryable: false,
        }),
      ]);
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectFailure(failureOf(terminal(events, "failed"), "failed", "failed with stream.upstream"), {
        type: "stream.upstream",
        retryable: false,
        mentions: ["the producer broke at 2"],
      });
    },
  },
  {
    id: "stream.input-early-stop",
    title: "a node that stops reading early (limit) completes without the stream's end",
    feature: FEATURES.streams,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = session.execute({
        steps: [
          step("sum", "conformance.sum", {}, { items: streamInput("count", "items"), limit: given(json(2)) }),
        ],
      });
      await session.waitUntil(
        () => granted(session.events(id), "items") >= 4,
        'Credit events on "items" granting at least 4 items',
        patienceMs,
        () => describeEvents(session.events(id)),
      );
      session.send([items(id, "items", [json(10), json(20), json(30), json(40)])]);
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      const last = terminal(events, "completed");
      expectThat(last.kind.case === "completed", "completed after 2 items, without end", () =>
        describeEvents(events),
      );
      expectEqual(JSON.parse(jsonTextOf(last.kind.value.outputs.sum, "sum")), 30, "sum");
      expectEqual(JSON.parse(jsonTextOf(last.kind.value.outputs.count, "count")), 2, "count");
    },
  },
  {
    id: "stream.arrow-batches",
    title:
      "conformance.scale reads Arrow record batches from a stream input and streams one scaled batch per batch, types kept",
    feature: FEATURES.streams,
    async run({ shared, patienceMs }) {
      const session = (await shared()).session();
      const id = executeWith(
        session,
        [
          step(
            "scale",
            "conformance.scale",
            {},
            {
              batches: streamInput("load", "batches"),
              factor: given(json(2)),
            },
          ),
        ],
        (id) => [credit(id, "batches", 64)],
      );
      await session.waitUntil(
        () => granted(session.events(id), "batches") >= 2,
        'a Credit event on "batches" granting at least 2 items',
        patienceMs,
        () => describeEvents(session.events(id)),
      );
      const input = batches();
      session.send([
        items(
          id,
          "batches",
          input.map(
            (table) =>
              ({
                $typeName: "conductor.runtime.v1.Value",
                kind: { case: "arrow", value: tableToIpc(table) },
              }) as Value,
          ),
          true,
        ),
      ]);
      const events = await session.waitForEnd(id, patienceMs);
      checkGrammar(events, 1);
      expectThat(terminal(events, "completed").kind.case === "completed", "completed", () =>
        describeEvents(events),
      );
      const out = chunks(events, "batches").map((event) => {
        const value = event.kind.case === "chunk" ? event.kind.value.value : undefined;
        if (value?.kind.case !== "arrow")
          throw new CheckFailure('Arrow items on "batches"', `a ${value?.kind.case ?? "empty"} value`);
        return tableFromIpc(value.kind.value);
      });
      expectEqual(out.length, 2, "batches out (one per batch in)");
      const expected = [
        { id: 0n, value: 1, label: "row-0" },
        { id: 1n, value: null, label: "row-1" },
        { id: 2n, value: 4.5, label: "row-2" },
      ];
      const rows = out.flatMap((table) => table.toArray().map((row) => row.toJSON()));
      expectEqual(show(rows), show(expected), "the rows (value doubled, id and label unchanged)");
      for (const table of out) {
        expectEqual(
          table.schema.fields.map((field) => `${field.name}: ${field.type}`),
          ["id: Int64", "value: Float64", "label: Utf8"],
          `the schema of a batch out (${describeTable(table)})`,
        );
      }
    },
  },
];
