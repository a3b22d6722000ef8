/**
 * The conformance suite: one list of scenarios, run against every runtime Conductor ships, through the host.
 * A runtime passes when every scenario its capabilities allow passes. Select runtimes with
 * CONDUCTOR_CONFORMANCE_RUNTIMES=node,python (default: all; a runtime that cannot start fails, never skips).
 */
import type { BlueprintDocument, Conductor, ExecutionEvent, ExecutionResult } from "@conductor/host";
import { createConductor } from "@conductor/host";
import {
  type EncodedValue,
  isArrowTable,
  parseJsonText,
  stringifyJson,
  toLive,
} from "@conductor/sdk/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as kitchenSink from "./kitchen-sink.js";
import { type RuntimeUnderTest, selectedRuntimes } from "./runtimes-under-test.js";

const INLINE_LIMIT = 64 * 1024;

describe.each(selectedRuntimes())("runtime $name ($language)", (runtime: RuntimeUnderTest) => {
  let conductor: Conductor;
  const caps = runtime.capabilities;

  beforeAll(async () => {
    conductor = await createConductor({
      builtinNodes: false,
      inlineLimit: INLINE_LIMIT,
      ...(runtime.spec === undefined
        ? { nodes: Object.values(kitchenSink).filter((value) => typeof value === "object") }
        : {}),
      project: {
        dir: process.cwd(),
        blueprints: [],
        nodes: [],
        runtimes: runtime.spec === undefined ? {} : { [runtime.name]: runtime.spec },
      },
    });
    // Start the runtime now, so a runtime that cannot start fails here with its own error.
    await conductor.nodeTypes();
  }, 600_000);

  afterAll(async () => {
    await conductor?.close();
  });

  async function run(
    nodes: BlueprintDocument["nodes"],
    outputs: Record<string, string> = {},
    inputs: Record<string, unknown> = {},
    declaredInputs: BlueprintDocument["inputs"] = {},
  ): Promise<{ result: ExecutionResult; events: ExecutionEvent[] }> {
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(
      { conductor: "blueprint/v1", nodes, outputs, inputs: declaredInputs },
      inputs,
      { onEvent: (event) => events.push(event) },
    );
    return { result, events };
  }

  it("lists the kitchen-sink node types with their schemas and flags", async () => {
    const types = new Map((await conductor.nodeTypes()).map((entry) => [entry.nodeType.type, entry]));
    for (const name of ["echo", "produce", "add", "fail", "throw", "sleep", "report", "crash", "print"]) {
      expect(types.has(`conformance.${name}`), `conformance.${name}`).toBe(true);
    }
    const add = types.get("conformance.add")!;
    expect(add.runtime).toBe(runtime.name);
    expect(add.language).toBe(runtime.language);
    expect(add.nodeType.flags).toMatchObject({ idempotent: true, deterministic: true });
    expect(add.nodeType.inputs.map((port) => [port.name, port.required])).toEqual([
      ["a", true],
      ["b", true],
    ]);
    expect(JSON.parse(add.nodeType.inputs[0]!.schema)).toMatchObject({ type: "number" });
    expect(add.nodeType.outputs.map((port) => port.name)).toEqual(["sum"]);
    expect(JSON.parse(add.nodeType.configSchema)).toMatchObject({ type: "object" });
    expect(types.get("conformance.sleep")!.nodeType.flags?.cancellable).toBe(true);
    expect(types.get("conformance.report")!.nodeType.flags?.streaming).toBe(true);
  });

  it("returns a JSON value and passes it through another node intact", async () => {
    const { result } = await run(
      {
        make: { type: "conformance.produce", config: { kind: "json" } },
        echo: { type: "conformance.echo", inputs: { value: "make.value" } },
      },
      { value: "echo.value" },
    );
    expect(result.status).toBe("completed");
    expect(result.outputs.value).toEqual(parseJsonText(kitchenSink.PRODUCED_JSON));
    expect(toLive(result.outputs.value)).toMatchObject({ big: 9007199254740993n });
    // Written back as JSON text (as `conductor run --json` and the API do): every digit the runtime wrote.
    expect(stringifyJson(toLive(result.outputs.value))).toContain('"big":9007199254740993');
  });

  it("keeps integers beyond 2^53 exact from a literal and an input, through the node, to the result", async () => {
    const { result } = await run(
      {
        literal: {
          type: "conformance.echo",
          inputs: { value: { value: { id: 9007199254740993n, list: [-9007199254740995n, 1, 1.5] } } },
        },
        given: { type: "conformance.echo", inputs: { value: "inputs.n" } },
      },
      { literal: "literal.value", given: "given.value" },
      { n: 18446744073709551615n },
      { n: { schema: { type: "integer" } } },
    );
    expect(result.status).toBe("completed");
    expect(toLive(result.outputs.literal)).toEqual({
      id: 9007199254740993n,
      list: [-9007199254740995n, 1, 1.5],
    });
    expect(toLive(result.outputs.given)).toBe(18446744073709551615n);
    expect(stringifyJson([toLive(result.outputs.literal), toLive(result.outputs.given)])).toBe(
      '[{"id":9007199254740993,"list":[-9007199254740995,1,1.5]},18446744073709551615]',
    );
  });

  it("returns raw bytes", async () => {
    const { result } = await run(
      {
        make: { type: "conformance.produce", config: { kind: "bytes" } },
        echo: { type: "conformance.echo", inputs: { value: "make.value" } },
      },
      { value: "echo.value" },
    );
    expect(result.outputs.value).toEqual(Uint8Array.from({ length: 256 }, (_, i) => i));
  });

  it("returns an Arrow table whose types and nulls survive", async () => {
    const { result } = await run(
      {
        make: { type: "conformance.produce", config: { kind: "arrow" } },
        echo: { type: "conformance.echo", inputs: { value: "make.value" } },
      },
      { value: "echo.value" },
    );
    const table = result.outputs.value;
    expect(isArrowTable(table)).toBe(true);
    if (!isArrowTable(table)) return;
    expect(table.schema.fields.map((field) => `${field.name}:${field.type}`)).toEqual([
      "id:Int64",
      "name:Utf8",
      "score:Float64",
    ]);
    expect(table.toArray().map((row) => row.toJSON())).toEqual([
      { id: 1n, name: "a", score: 0.5 },
      { id: 2n, name: null, score: null },
      { id: 3n, name: "c", score: 2.5 },
    ]);
  });

  it("sends a value over the inline limit as a blob, in and out", async () => {
    const size = INLINE_LIMIT * 3 + 17;
    const { result } = await run(
      {
        make: { type: "conformance.produce", config: { kind: "large", size } },
        echo: { type: "conformance.echo", inputs: { value: "make.value" } },
      },
      { value: "echo.value" },
    );
    expect(result.status).toBe("completed");
    if (runtime.spec !== undefined) {
      const held = result.nodes.echo!.outputs!.value as EncodedValue;
      expect(held.wire.kind.case).toBe("blob");
    }
    const bytes = result.outputs.value as Uint8Array;
    expect(bytes.byteLength).toBe(size);
    expect(bytes.every((byte, i) => byte === i % 251)).toBe(true);
  });

  it("computes with typed inputs and config, also across a chain of steps", async () => {
    const { result } = await run(
      {
        first: {
          type: "conformance.add",
          config: { offset: 10 },
          inputs: { a: { value: 2 }, b: { value: 3 } },
        },
        second: { type: "conformance.add", inputs: { a: "first.sum", b: { value: 100 } } },
        third: { type: "conformance.add", inputs: { a: "second.sum", b: { value: 0.5 } } },
      },
      { sum: "third.sum" },
    );
    expect(result.outputs.sum).toBe(115.5);
  });

  it.each([true, false])("reports a failure with retryable=%s, its type and details", async (retryable) => {
    const { result } = await run({
      broken: {
        type: "conformance.fail",
        config: { message: "the thing broke", retryable, type: "thing.broken" },
      },
    });
    expect(result.status).toBe("failed");
    expect(result.failure).toMatchObject({
      nodeId: "broken",
      message: "the thing broke",
      type: "thing.broken",
      retryable,
    });
    expect(toLive(result.failure!.details)).toEqual({ code: 7 });
  });

  it("turns an ordinary error into a retryable failure with its type and stack", async () => {
    const { result } = await run({
      oops: { type: "conformance.throw", config: { message: "bad value 42" } },
    });
    expect(result.failure).toMatchObject({ nodeId: "oops", type: runtime.thrownType, retryable: true });
    expect(result.failure!.message).toContain("bad value 42");
    expect(result.failure!.stack ?? "").not.toBe("");
  });

  it("cancels a sleeping node, which the runtime stops itself", async () => {
    const events: ExecutionEvent[] = [];
    const prepared = await conductor.prepare({
      conductor: "blueprint/v1",
      nodes: { nap: { type: "conformance.sleep", config: { ms: 30_000 } } },
    });
    const handle = prepared.start({}, { onEvent: (event) => events.push(event) });
    for (let i = 0; i < 200 && !events.some((event) => event.type === "node.started"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    handle.cancel("test cancels");
    const result = await handle.result;
    expect(result.status).toBe("cancelled");
    expect(result.nodes.nap!.status).toBe("cancelled");
    // A runtime that ignored the Cancel would be given up on after the grace, and the reason would say so.
    const cancelled = events.find((event) => event.type === "node.cancelled");
    expect(cancelled).toMatchObject({ nodeId: "nap" });
    expect((cancelled as { reason: string }).reason).not.toContain("did not stop");
  });

  it("fails a step that exceeds its timeout as a retryable timeout", async () => {
    const { result } = await run({
      nap: { type: "conformance.sleep", config: { ms: 10_000 }, timeoutMs: 150 },
    });
    expect(result.failure).toMatchObject({ nodeId: "nap", type: "timeout", retryable: true });
    expect(result.failure!.message).toContain("150");
  });

  it("delivers logs, progress and chunks before completing", async () => {
    const { result, events } = await run({ talk: { type: "conformance.report" } }, { done: "talk.done" });
    expect(result.outputs.done).toBe(true);
    const logs = events.filter((event) => event.type === "node.log");
    expect(logs).toContainEqual(
      expect.objectContaining({
        nodeId: "talk",
        level: "info",
        message: `hello from ${runtime.language}`,
        fields: { n: 1 },
      }),
    );
    const progress = events.flatMap((event) =>
      event.type === "node.progress" ? [[event.fraction, event.message]] : [],
    );
    expect(progress).toEqual([
      [0.5, "half"],
      [1, "done"],
    ]);
    const chunks = events.flatMap((event) =>
      event.type === "node.chunk" ? [[event.port, toLive(event.value)]] : [],
    );
    expect(chunks).toEqual([
      ["items", 0],
      ["items", 1],
      ["items", 2],
    ]);
    const order = events.filter((event) => "nodeId" in event).map((event) => event.type);
    expect(order.indexOf("node.completed")).toBe(order.length - 1);
  });

  it("runs concurrent invocations at the same time", async () => {
    const nodes: BlueprintDocument["nodes"] = {};
    for (let i = 0; i < 8; i++) nodes[`nap${i}`] = { type: "conformance.sleep", config: { ms: 300 } };
    const { result, events } = await run(nodes);
    expect(result.status).toBe("completed");
    // All eight started before any completed: they ran side by side.
    const kinds = events.filter((event) => "nodeId" in event).map((event) => event.type);
    const lastStart = kinds.lastIndexOf("node.started");
    expect(kinds.filter((kind) => kind === "node.started")).toHaveLength(8);
    expect(kinds.indexOf("node.completed")).toBeGreaterThan(lastStart);
  });

  it("reports a config that does not match its schema under the node's config path", async () => {
    const { valid, diagnostics } = await conductor.validate({
      conductor: "blueprint/v1",
      nodes: {
        sum: {
          type: "conformance.add",
          config: { offset: "ten" },
          inputs: { a: { value: 1 }, b: { value: 2 } },
        },
      },
    });
    expect(valid).toBe(false);
    expect(diagnostics.map((d) => d.path)).toEqual(["nodes.sum.config.offset"]);
  });

  it("fails an input that does not match its schema at run time, naming node and port", async () => {
    const { result } = await run(
      { sum: { type: "conformance.add", inputs: { a: "inputs.a", b: { value: 2 } } } },
      {},
      { a: "not a number" },
      { a: {} },
    );
    expect(result.failure).toMatchObject({ nodeId: "sum", type: "input.invalid", retryable: false });
    expect(result.failure!.message).toMatch(/"a"/);
  });

  if (caps.crash) {
    it("reports a crash mid-node as a retryable runtime.lost and restarts the runtime", async () => {
      const { result } = await run({ boom: { type: "conformance.crash" } });
      expect(result.failure).toMatchObject({ nodeId: "boom", type: "runtime.lost", retryable: true });
      expect(result.failure!.message).toContain(
        `runtime "${runtime.name}" exited with code 3 while running node "boom"`,
      );
      // The runtime comes back: the next run succeeds.
      let after: ExecutionResult | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        after = (
          await run(
            { sum: { type: "conformance.add", inputs: { a: { value: 1 }, b: { value: 1 } } } },
            { sum: "sum.sum" },
          )
        ).result;
        if (after.status === "completed") break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(after?.outputs.sum).toBe(2);
    });
  }

  if (caps.print) {
    it("keeps the protocol intact when a node prints to stdout", async () => {
      const { result } = await run(
        {
          noisy: { type: "conformance.print" },
          after: { type: "conformance.add", inputs: { a: { value: 1 }, b: { value: 2 } } },
        },
        { ok: "noisy.ok", sum: "after.sum" },
      );
      expect(result.outputs).toEqual({ ok: true, sum: 3 });
    });
  }
});
