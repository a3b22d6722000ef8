import { fileURLToPath } from "node:url";
import { defineNode, NodeFailure } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import * as fixtureNodes from "../../../test/fixtures/nodes/math-nodes.js";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { type Conductor, createConductor } from "../conductor.js";
import type { ExecutionEvent } from "./execution-events.js";

const fixtureModule = fileURLToPath(new URL("../../../test/fixtures/nodes/math-nodes.ts", import.meta.url));

function blueprint(
  nodes: BlueprintDocument["nodes"],
  extra: Partial<BlueprintDocument> = {},
): BlueprintDocument {
  return { conductor: "blueprint/v1", nodes, ...extra };
}

/**
 * Completes only once `parties` barrier nodes are running at the same time, so an execution of several finishes only
 * if they really ran in parallel (one at a time, the first would wait for the others for ever; after 10 s it fails
 * saying so, which keeps a broken scheduler from hanging the suite).
 */
const arrived: (() => void)[] = [];
const barrier = defineNode({
  type: "test.barrier",
  config: z.object({ parties: z.number().int() }),
  output: { arrived: z.number() },
  run: (_input, ctx) =>
    new Promise<{ arrived: number }>((resolve, reject) => {
      const position = arrived.length + 1;
      const timer = setTimeout(
        () =>
          reject(
            new NodeFailure(`only ${arrived.length} of ${ctx.config.parties} barrier nodes ran at once`),
          ),
        10_000,
      );
      arrived.push(() => {
        clearTimeout(timer);
        resolve({ arrived: position });
      });
      if (arrived.length === ctx.config.parties) for (const release of arrived.splice(0)) release();
    }),
});

/** `type:node` of the node events of an execution, in order. */
function nodeEvents(events: ExecutionEvent[], ...types: string[]): string[] {
  return events
    .filter((event) => "nodeId" in event && types.includes(event.type))
    .map((event) => `${event.type}:${(event as { nodeId: string }).nodeId}`);
}

describe("Execution (the scheduler)", () => {
  let conductor: Conductor;

  beforeAll(async () => {
    conductor = await createConductor({
      nodes: [...Object.values(fixtureNodes), barrier],
      maxConcurrency: 16,
      project: {
        dir: process.cwd(),
        blueprints: [],
        nodes: [],
        runtimes: {
          node: { kind: "node", modules: [fixtureModule] },
          serial: { kind: "node", modules: [fixtureModule], maxConcurrency: 1 },
        },
      },
    });
  });

  afterAll(async () => {
    await conductor.close();
  });

  it("runs independent nodes truly in parallel: all have started before any finishes", async () => {
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(
      blueprint({
        a: { type: "test.barrier", config: { parties: 3 } },
        b: { type: "test.barrier", config: { parties: 3 } },
        c: { type: "test.barrier", config: { parties: 3 } },
      }),
      {},
      { onEvent: (event) => events.push(event) },
    );
    expect(result.status).toBe("completed");
    const order = nodeEvents(events, "node.started", "node.completed");
    expect(order.slice(0, 3).sort()).toEqual(["node.started:a", "node.started:b", "node.started:c"]);
    expect(order.slice(3).every((entry) => entry.startsWith("node.completed:"))).toBe(true);
  });

  it("passes values port to port and returns the blueprint's outputs", async () => {
    const result = await conductor.run(
      blueprint(
        {
          one: { type: "test.add-one", inputs: { x: "inputs.start" } },
          two: { type: "test.add-one", inputs: { x: "one.x" } },
          total: { type: "test.sum", inputs: { a: "one.x", b: "two.x" } },
        },
        {
          inputs: { start: { schema: { type: "integer" } } },
          outputs: { total: "total.sum", start: "inputs.start" },
        },
      ),
      { start: 10 },
    );
    expect(result.outputs).toEqual({ total: 23, start: 10 });
    expect(result.nodes.total!.status).toBe("completed");
  });

  it("emits the events of an execution, in order, to every subscriber", async () => {
    const prepared = await conductor.prepare(
      blueprint({
        a: { type: "test.add-one", inputs: { x: { value: 1 } } },
        b: { type: "test.describe", inputs: { value: "a.x" } },
      }),
    );
    const first: ExecutionEvent[] = [];
    const second: string[] = [];
    const handle = prepared.start({}, { onEvent: (event) => first.push(event) });
    handle.subscribe((event) => second.push(event.type));
    await handle.result;
    expect(first.map((e) => ("nodeId" in e ? `${e.type}:${e.nodeId}` : e.type))).toEqual([
      "execution.started",
      "node.queued:a",
      "node.started:a",
      "node.completed:a",
      "node.queued:b",
      "node.started:b",
      "node.log:b",
      "node.progress:b",
      "node.completed:b",
      "execution.finished",
    ]);
    expect(first.map((e) => e.seq)).toEqual(first.map((_, index) => index + 1));
    expect(second.at(-1)).toBe("execution.finished");
  });

  it("stops after a node fails, keeps completed results and names the failed node", async () => {
    const result = await conductor.run(
      blueprint({
        ok: { type: "test.add-one", inputs: { x: { value: 1 } } },
        broken: { type: "test.fail", config: { message: "disk full" }, inputs: { value: "ok.x" } },
        after: { type: "test.describe", inputs: { value: "broken.value" } },
      }),
    );
    expect(result.status).toBe("failed");
    expect(result.failure).toMatchObject({
      nodeId: "broken",
      message: "disk full",
      type: "test.planned",
      retryable: false,
    });
    expect(result.nodes.ok).toMatchObject({ status: "completed", outputs: { x: 2 } });
    expect(result.nodes.after!.status).toBe("pending");
  });

  it("cancels running nodes through their signal and ends cancelled", async () => {
    const prepared = await conductor.prepare(
      blueprint({
        slow: { type: "test.sleep", config: { ms: 30_000 } },
        remote: { type: "test.sleep", config: { ms: 30_000 }, runtime: "node" },
        next: { type: "test.describe", inputs: { value: "slow.value" } },
      }),
    );
    const handle = prepared.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    handle.cancel("stop please");
    // The nodes sleep 30 s, past the test's time limit: the result arrives only because their signals fired.
    const result = await handle.result;
    expect(result.status).toBe("cancelled");
    expect(result.nodes.slow!.status).toBe("cancelled");
    expect(result.nodes.remote!.status).toBe("cancelled");
    expect(result.nodes.next!.status).toBe("pending");
  });

  it("cancelled before it starts (an aborted signal): records its start, then its cancelled end, and runs nothing", async () => {
    const prepared = await conductor.prepare(
      blueprint({ slow: { type: "test.sleep", config: { ms: 30_000 }, runtime: "node" } }),
    );
    const abort = new AbortController();
    abort.abort("cancelled by SIGINT (Ctrl-C)");
    const events: ExecutionEvent[] = [];
    const result = await prepared.run({}, { signal: abort.signal, onEvent: (event) => events.push(event) });
    expect(result.status).toBe("cancelled");
    expect(result.failure?.message).toBe("cancelled by SIGINT (Ctrl-C)");
    expect(result.nodes.slow!.status).toBe("pending");
    // The journal's last word about it is its end, so nothing takes it for an orphan to resume.
    expect(events.map((event) => event.type)).toEqual(["execution.started", "execution.finished"]);
    expect(events.map((event) => event.seq)).toEqual([1, 2]);
  });

  it("bounds parallelism by a runtime's max concurrency from its handshake", async () => {
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(
      blueprint({
        a: { type: "test.sleep", config: { ms: 50 }, runtime: "serial" },
        b: { type: "test.sleep", config: { ms: 50 }, runtime: "serial" },
      }),
      {},
      { onEvent: (event) => events.push(event) },
    );
    expect(result.status).toBe("completed");
    // One at a time: the second starts only after the first has completed.
    const order = nodeEvents(events, "node.started", "node.completed");
    expect(order.map((entry) => entry.split(":")[0])).toEqual([
      "node.started",
      "node.completed",
      "node.started",
      "node.completed",
    ]);
    expect(order[0]!.split(":")[1]).toBe(order[1]!.split(":")[1]);
  });

  it("gives identical results whether a node module runs in-process or in the Node sidecar", async () => {
    const nodes = (runtime?: string) =>
      blueprint(
        {
          a: { type: "test.add-one", inputs: { x: { value: 41 } }, ...(runtime ? { runtime } : {}) },
          b: { type: "test.add-one", inputs: { x: "a.x" }, ...(runtime ? { runtime } : {}) },
          c: { type: "test.describe", inputs: { value: "b.x" }, ...(runtime ? { runtime } : {}) },
          where: {
            type: "test.sleep",
            config: { ms: 0 },
            inputs: { value: "c.text" },
            ...(runtime ? { runtime } : {}),
          },
        },
        { outputs: { text: "c.text", echoed: "where.value", pid: "where.pid" } },
      );
    const local = await conductor.run(nodes());
    const sidecar = await conductor.run(nodes("node"));
    expect(sidecar.outputs.text).toBe("number:43");
    expect({ ...sidecar.outputs, pid: 0 }).toEqual({ ...local.outputs, pid: 0 });
    expect(local.outputs.pid).toBe(process.pid);
    expect(sidecar.outputs.pid).not.toBe(process.pid);
  });

  it("rejects inputs that do not match the blueprint's inputs, naming them", async () => {
    await expect(
      conductor.run(
        blueprint(
          { a: { type: "test.add-one", inputs: { x: "inputs.count" } } },
          { inputs: { count: { schema: { type: "integer" } } } },
        ),
        { count: "three", cuont: 1 },
      ),
    ).rejects.toThrow(
      /inputs\.cuont: blueprint "blueprint" has no input "cuont"; its inputs are "count"; did you mean "count"\?\n {2}inputs\.count: value must be integer; found "three"/,
    );
  });

  it("runs a long chain of synchronous nodes without growing the stack", async () => {
    const nodes: BlueprintDocument["nodes"] = { n0: { type: "test.add-one", inputs: { x: { value: 0 } } } };
    for (let i = 1; i < 5_000; i++) nodes[`n${i}`] = { type: "test.add-one", inputs: { x: `n${i - 1}.x` } };
    const result = await conductor.run(blueprint(nodes, { outputs: { x: "n4999.x" } }));
    expect(result.outputs.x).toBe(5_000);
  });
});
