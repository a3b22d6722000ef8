import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { FailureInfo } from "../protocol/failure.js";
import type { InvocationSink } from "../protocol/invocation.js";
import { createNodeRuntime } from "../runtime/node-runtime.js";
import { defineNode } from "./define-node.js";
import { isAsyncIterable, stream, streamItemOf } from "./stream-port.js";

const evens = defineNode({
  type: "test.evens",
  input: { upTo: z.number() },
  output: { items: stream(z.number().int()), note: z.string() },
  run: ({ upTo }) => ({
    note: "evens",
    items: (async function* () {
      for (let i = 0; i <= upTo; i += 2) yield i;
      yield 1.5; // not an integer: the item check fails the producer here
    })(),
  }),
});

const total = defineNode({
  type: "test.total",
  input: { items: stream(z.number()).describe("the numbers to add") },
  output: { total: z.number() },
  run: async ({ items }) => {
    let sum = 0;
    for await (const item of items) sum += item;
    return { total: sum };
  },
});

function collectingSink() {
  const outputs: Record<string, unknown>[] = [];
  const failures: FailureInfo[] = [];
  const sink: InvocationSink = {
    started: () => {},
    log: () => {},
    progress: () => {},
    chunk: () => {},
    heartbeat: () => {},
    completed: (_step, values) => outputs.push(values),
    failed: (_step, failure) => failures.push(failure),
    cancelled: () => {},
    rejected: (failure) => failures.push(failure),
  };
  return { sink, outputs, failures };
}

describe("stream()", () => {
  it("marks a port's schema with its item schema, kept through describe()", () => {
    const item = z.string();
    expect(streamItemOf(stream(item))).toBe(item);
    expect(streamItemOf(stream(item).describe("lines"))).toBe(item);
    expect(streamItemOf(z.string())).toBeUndefined();
  });

  it("describes stream ports by their item schema, flagged stream", () => {
    const runtime = createNodeRuntime({ nodes: [evens, total] });
    const producer = runtime.nodeType("test.evens")!;
    expect(producer.outputs.map((port) => [port.name, port.stream, JSON.parse(port.schema).type])).toEqual([
      ["items", true, "integer"],
      ["note", false, "string"],
    ]);
    const consumer = runtime.nodeType("test.total")!;
    expect(consumer.inputs.map((port) => [port.name, port.stream, port.required, port.description])).toEqual([
      ["items", true, true, "the numbers to add"],
    ]);
  });

  it("gives a stream output as an async iterable whose items are checked as they pass", async () => {
    const runtime = createNodeRuntime({ nodes: [evens] });
    const { sink, outputs, failures } = collectingSink();
    runtime.execute(
      {
        invocationId: 1,
        executionId: "e",
        steps: [
          {
            nodeId: "p",
            nodeType: "test.evens",
            attempt: 1,
            config: {},
            inputs: { upTo: { value: 4 } },
            timeoutMs: 0,
          },
        ],
      },
      sink,
    );
    await runtime.drain(10_000);
    expect(failures).toEqual([]);
    const items = outputs[0]!.items;
    expect(isAsyncIterable(items)).toBe(true);
    const seen: number[] = [];
    const error = await (async () => {
      try {
        for await (const item of items as AsyncIterable<number>) seen.push(item);
      } catch (thrown) {
        return thrown as Error & { type: string };
      }
      return undefined;
    })();
    expect(seen).toEqual([0, 2, 4]);
    expect(error?.message).toBe(
      'node "p" (test.evens): item 3 of stream output "items" is invalid: Invalid input: expected int, received number',
    );
    expect(error?.type).toBe("output.invalid");
  });

  it("refuses a value that is not a stream on a stream input", async () => {
    const runtime = createNodeRuntime({ nodes: [total] });
    const { sink, failures } = collectingSink();
    runtime.execute(
      {
        invocationId: 1,
        executionId: "e",
        steps: [
          {
            nodeId: "t",
            nodeType: "test.total",
            attempt: 1,
            config: {},
            inputs: { items: { value: [1, 2] } },
            timeoutMs: 0,
          },
        ],
      },
      sink,
    );
    await runtime.drain(10_000);
    expect(failures).toEqual([
      expect.objectContaining({
        type: "input.invalid",
        message: expect.stringContaining("expected a stream (an AsyncIterable of items)"),
      }),
    ]);
  });
});
