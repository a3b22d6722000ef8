import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EncodedValue, toLive } from "@conductor/sdk/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { BLOB_BYTES, EventCodec } from "./stored-value.js";

describe("the journal's event codec", () => {
  let dir: string;
  let codec: EventCodec;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "codec-"));
    codec = new EventCodec(join(dir, "blobs"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const events: ExecutionEvent[] = [
    {
      type: "execution.started",
      executionId: "e",
      seq: 4,
      at: 1_000,
      blueprintId: "b",
      inputs: { x: 1 },
      resumed: true,
    },
    { type: "node.queued", executionId: "e", seq: 5, at: 1_002, nodeId: "0" },
    {
      type: "node.started",
      executionId: "e",
      seq: 6,
      at: 1_002,
      nodeId: "a",
      attempt: 1,
      runtime: "builtin",
      inputs: { list: [1, "two", null, { deep: true }] },
    },
    { type: "node.heartbeat", executionId: "e", seq: 9, at: 999, nodeId: "" },
    {
      type: "node.failed",
      executionId: "e",
      seq: 10,
      at: 1_010,
      nodeId: "a",
      failure: { message: "no", type: "t", retryable: false },
      durationMs: 1.5,
      attempt: 1,
      handling: "continue",
    },
    {
      type: "execution.finished",
      executionId: "e",
      seq: 11,
      at: 1_011,
      status: "completed",
      outputs: { y: 2 },
      durationMs: 11,
    },
  ];

  it("reads back what it wrote: fields, order, sequence numbers with gaps, times going back", () => {
    const text = codec.encode(events);
    expect(codec.decode(text, "e")).toEqual(events);
    expect(codec.decode(text, "other").every((event) => event.executionId === "other")).toBe(true);
    expect(text.length).toBeLessThan(JSON.stringify(events).length);
  });

  it("keeps event types it has no short code for", () => {
    const unknown = { type: "node.future", executionId: "e", seq: 1, at: 5, nodeId: "a", extra: [1] };
    const text = codec.encode([unknown as unknown as ExecutionEvent]);
    expect(codec.decode(text, "e")).toEqual([unknown]);
  });

  it("reads batches written as arrays of whole events", () => {
    const old = JSON.stringify(events.map(({ executionId: _, ...rest }) => rest));
    expect(codec.decode(old, "e")).toEqual(events);
  });

  it("stores values JSON cannot hold in their wire form, plain JSON as it is, and big integers exactly", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const completed: ExecutionEvent = {
      type: "node.completed",
      executionId: "e",
      seq: 1,
      at: 1,
      nodeId: "a",
      outputs: {
        bytes,
        small: 7n,
        big: 9007199254740993n,
        nested: { ids: [-9007199254740995n] },
        plain: { a: [1] },
      },
      durationMs: 0,
    };
    const [back] = codec.decode(codec.encode([completed]), "e");
    const outputs = (back as Extract<ExecutionEvent, { type: "node.completed" }>).outputs;
    expect(outputs.bytes).toBeInstanceOf(EncodedValue);
    // A bigint is stored as its digits: one a number holds exactly comes back a number, a larger one a bigint.
    expect(outputs.small).toBe(7);
    expect(outputs.big).toBe(9007199254740993n);
    expect(outputs.nested).toEqual({ ids: [-9007199254740995n] });
    expect(outputs.plain).toEqual({ a: [1] });
    const plain = { a: [1, { b: "c" }] };
    expect(codec.storableValue(plain)).toBe(plain);
  });

  it("stores a large value once, as a blob file both events reference, and reads it back", async () => {
    const blobDir = join(dir, "large");
    const large = new EventCodec(blobDir);
    const bytes = new Uint8Array(BLOB_BYTES + 1).fill(7);
    const text = "é".repeat(BLOB_BYTES);
    const completed: ExecutionEvent = {
      type: "node.completed",
      executionId: "e",
      seq: 1,
      at: 1,
      nodeId: "a",
      outputs: { bytes, text, small: "s" },
      durationMs: 0,
    };
    const finished: ExecutionEvent = {
      type: "execution.finished",
      executionId: "e",
      seq: 2,
      at: 2,
      status: "completed",
      outputs: { bytes, text },
      durationMs: 2,
    };
    const stored = large.encode([completed, finished]);
    // Two blob files (the bytes and the text), each written once, and neither value inside the stored events.
    expect((await readdir(blobDir)).length).toBe(2);
    expect(stored.length).toBeLessThan(2_000);
    const [backCompleted, backFinished] = large.decode(stored, "e") as [
      Extract<ExecutionEvent, { type: "node.completed" }>,
      Extract<ExecutionEvent, { type: "execution.finished" }>,
    ];
    expect(toLive(backCompleted.outputs.bytes)).toEqual(bytes);
    expect(toLive(backCompleted.outputs.text)).toBe(text);
    expect(backCompleted.outputs.small).toBe("s");
    expect(toLive(backFinished.outputs!.bytes)).toEqual(bytes);
  });
});
