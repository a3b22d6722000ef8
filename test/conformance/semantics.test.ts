/**
 * Orchestration semantics against every runtime: retries, map, conditions, error routing, caching, compensation
 * and sub-blueprints work the same whichever runtime runs the nodes (the host applies them around the ABI).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlueprintDocument, Conductor, ExecutionEvent } from "@conductor/host";
import { createConductor } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as kitchenSink from "./kitchen-sink.js";
import { type RuntimeUnderTest, selectedRuntimes } from "./runtimes-under-test.js";

describe.each(selectedRuntimes())("semantics on runtime $name", (runtime: RuntimeUnderTest) => {
  let conductor: Conductor;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "semantics-"));
    await writeFile(
      join(dir, "double-add.yaml"),
      `conductor: blueprint/v1
inputs: { a: { schema: { type: number } }, b: { schema: { type: number } } }
outputs: { sum: second.sum }
nodes:
  first: { type: conformance.add, inputs: { a: inputs.a, b: inputs.b } }
  second: { type: conformance.add, inputs: { a: first.sum, b: inputs.b } }
`,
    );
    conductor = await createConductor({
      builtinNodes: true,
      journal: join(dir, "journal.db"),
      ...(runtime.spec === undefined
        ? { nodes: Object.values(kitchenSink).filter((value) => typeof value === "object") }
        : {}),
      project: {
        dir,
        blueprints: ["."],
        nodes: [],
        runtimes: runtime.spec === undefined ? {} : { [runtime.name]: runtime.spec },
      },
    });
    await conductor.nodeTypes();
  }, 600_000);

  afterAll(async () => {
    await conductor?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(nodes: BlueprintDocument["nodes"], outputs: Record<string, string> = {}) {
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(
      { conductor: "blueprint/v1", nodes, outputs },
      {},
      { onEvent: (event) => events.push(event) },
    );
    return { result, events };
  }

  it("retries a retryable failure up to maxAttempts", async () => {
    const { result, events } = await run({
      flaky: {
        type: "conformance.fail",
        config: { message: "try again", retryable: true },
        retry: { maxAttempts: 3, initialDelayMs: 10, jitter: false },
      },
    });
    expect(result.failure).toMatchObject({ nodeId: "flaky", message: "try again" });
    expect(events.filter((e) => e.type === "node.started")).toHaveLength(3);
  });

  it("maps a node over a list, in order", async () => {
    const { result } = await run(
      {
        items: { type: "core.constant", config: { value: [1, 2, 3, 4, 5] } },
        plus: {
          type: "conformance.add",
          map: { over: "a", concurrency: 2 },
          inputs: { a: "items.value", b: { value: 10 } },
        },
      },
      { sums: "plus.sum" },
    );
    expect(result.outputs.sums).toEqual([11, 12, 13, 14, 15]);
  });

  it("skips a node whose condition is false and routes a failure to a handler", async () => {
    const { result } = await run(
      {
        skipped: { type: "conformance.add", when: "a > 100", inputs: { a: { value: 1 }, b: { value: 2 } } },
        broken: { type: "conformance.fail", config: { message: "nope", retryable: false }, onError: "route" },
        handler: { type: "conformance.echo", inputs: { value: "broken.error" } },
      },
      { handled: "handler.value" },
    );
    expect(result.status).toBe("completed");
    expect(result.nodes.skipped!.status).toBe("skipped");
    expect(result.outputs.handled).toMatchObject({
      message: "nope",
      type: "conformance.failure",
      retryable: false,
    });
  });

  it("caches a deterministic node's result in the journal", async () => {
    const nodes = {
      sum: { type: "conformance.add", cache: true, inputs: { a: { value: 40 }, b: { value: 2 } } },
    };
    await run(nodes);
    const { result } = await run(nodes, { sum: "sum.sum" });
    expect(result.nodes.sum!.status).toBe("cached");
    expect(result.outputs.sum).toBe(42);
  });

  it("compensates completed nodes when a later node fails", async () => {
    const { result } = await run({
      reserve: {
        type: "conformance.add",
        compensate: "release",
        inputs: { a: { value: 1 }, b: { value: 1 } },
      },
      fail: { type: "conformance.fail", config: { message: "out of stock", retryable: false }, inputs: {} },
      release: { type: "conformance.echo", role: "compensation", inputs: { value: "reserve.sum" } },
    });
    expect(result.status).toBe("failed");
    expect(result.compensations).toEqual([
      { nodeId: "release", compensates: "reserve", status: "completed" },
    ]);
    expect(result.nodes.release).toMatchObject({
      status: "completed",
      outputs: { value: expect.anything() },
    });
  });

  it("runs a sub-blueprint made of this runtime's nodes", async () => {
    const { result } = await run(
      { twice: { type: "blueprint.double-add", inputs: { a: { value: 1 }, b: { value: 5 } } } },
      { sum: "twice.sum" },
    );
    expect(result.outputs.sum).toBe(11);
  });
});
