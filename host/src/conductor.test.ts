import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fixtureNodes from "../../test/fixtures/nodes/math-nodes.js";
import { type Conductor, createConductor } from "./conductor.js";
import type { ExecutionEvent } from "./scheduler/execution-events.js";

describe("createConductor()", () => {
  let dir: string;
  let conductor: Conductor;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-test-"));
    await writeFile(
      join(dir, "double.blueprint.yaml"),
      `conductor: blueprint/v1
title: Add two
inputs: { x: { schema: { type: integer } } }
outputs: { x: b.x }
nodes:
  a: { type: test.add-one, inputs: { x: inputs.x } }
  b: { type: test.add-one, inputs: { x: a.x } }
`,
    );
    await writeFile(join(dir, "notes.yaml"), "just: some yaml\n");
    await writeFile(join(dir, "broken.yaml"), "conductor: blueprint/v1\nnodes: 3\n");
    conductor = await createConductor({
      nodes: Object.values(fixtureNodes),
      project: { dir, blueprints: ["."], nodes: [], runtimes: {} },
    });
  });

  afterAll(async () => {
    await conductor.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the project's blueprints, including ones that do not load, with the reason", async () => {
    const entries = await conductor.blueprints();
    expect(entries.map((entry) => [entry.id, entry.path, entry.title])).toEqual([
      ["broken", "broken.yaml", "broken"],
      ["double", "double.blueprint.yaml", "Add two"],
    ]);
    expect(entries[0]!.description).toMatch(
      /^cannot be loaded: blueprint .* does not follow the blueprint\/v1 format/,
    );
    const loaded = await conductor.loadBlueprint("double");
    expect(Object.keys(loaded.document.nodes)).toEqual(["a", "b"]);
  });

  it("records executions with each node's inputs, outputs and logs", async () => {
    const result = await conductor.run(join(dir, "double.blueprint.yaml"), { x: 1 });
    const detail = conductor.executions.get(result.executionId)!;
    expect(detail).toMatchObject({
      blueprintId: "double",
      status: "completed",
      inputs: { x: 1 },
      outputs: { x: 3 },
    });
    expect(detail.nodes.b).toMatchObject({
      status: "completed",
      inputs: { x: 2 },
      outputs: { x: 3 },
      runtime: "builtin",
      attempt: 1,
    });
    expect(conductor.executions.list({ blueprintId: "double" })[0]!.executionId).toBe(result.executionId);
  });

  it("gives a late subscriber what happened so far, then live events, without duplicates", async () => {
    const handle = await conductor.start({
      conductor: "blueprint/v1",
      nodes: {
        first: { type: "test.add-one", inputs: { x: { value: 1 } } },
        nap: { type: "test.sleep", config: { ms: 150 }, inputs: { value: "first.x" } },
        last: { type: "test.describe", inputs: { value: "nap.value" } },
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const seen: ExecutionEvent[] = [];
    const finished = new Promise<void>((resolve) => {
      conductor.executions.subscribe(handle.executionId, (event) => {
        seen.push(event);
        if (event.type === "execution.finished") resolve();
      });
    });
    await finished;
    expect(seen.map((event) => event.seq)).toEqual(seen.map((_, index) => index + 1));
    expect(seen[0]!.type).toBe("execution.started");
    expect(
      seen
        .filter((event) => event.type === "node.completed")
        .map((event) => "nodeId" in event && event.nodeId),
    ).toEqual(["first", "nap", "last"]);
    // A subscriber after the end gets the rest of the history from a sequence number on.
    const tail: number[] = [];
    conductor.executions.subscribe(handle.executionId, (event) => tail.push(event.seq), {
      afterSeq: seen.length - 2,
    });
    expect(tail).toEqual([seen.length - 1, seen.length]);
  });

  it("cancels a running execution by id", async () => {
    const handle = await conductor.start({
      conductor: "blueprint/v1",
      nodes: { nap: { type: "test.sleep", config: { ms: 10_000 } } },
    });
    expect(conductor.executions.cancel(handle.executionId, "enough")).toBe(true);
    expect((await handle.result).status).toBe("cancelled");
    expect(conductor.executions.cancel(handle.executionId)).toBe(false);
  });

  it("rejects a subscription to an unknown execution", () => {
    expect(() => conductor.executions.subscribe("nope", () => {})).toThrow(
      'no execution "nope" is running or recorded',
    );
  });
});

describe("sub-blueprints", () => {
  let dir: string;
  let conductor: Conductor;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-sub-"));
    await writeFile(
      join(dir, "inner.yaml"),
      `conductor: blueprint/v1
inputs: { x: { schema: { type: number } } }
outputs: { y: b.x }
nodes:
  a: { type: test.add-one, inputs: { x: inputs.x } }
  b: { type: test.add-one, inputs: { x: a.x } }
`,
    );
    await writeFile(
      join(dir, "middle.yaml"),
      `conductor: blueprint/v1
inputs: { x: { schema: { type: number } } }
outputs: { y: twice.y }
nodes:
  once: { type: blueprint.inner, inputs: { x: inputs.x } }
  twice: { type: blueprint.inner, inputs: { x: once.y } }
`,
    );
    await writeFile(
      join(dir, "describer.yaml"),
      `conductor: blueprint/v1
inputs: { value: {} }
outputs: { text: d.text, echoed: inputs.value }
nodes:
  d: { type: test.describe, inputs: { value: inputs.value } }
`,
    );
    await writeFile(
      join(dir, "loop-a.yaml"),
      "conductor: blueprint/v1\nnodes:\n  next: { type: blueprint.loop-b }\n",
    );
    await writeFile(
      join(dir, "loop-b.yaml"),
      "conductor: blueprint/v1\nnodes:\n  back: { type: blueprint.loop-a }\n",
    );
    conductor = await createConductor({
      nodes: Object.values(fixtureNodes),
      project: { dir, blueprints: ["."], nodes: [], runtimes: {} },
    });
  });

  afterAll(async () => {
    await conductor.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a blueprint as a node, nested, with typed inputs and outputs", async () => {
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        nodes: {
          start: { type: "test.add-one", inputs: { x: { value: 0 } } },
          nested: { type: "blueprint.middle", inputs: { x: "start.x" } },
        },
        outputs: { y: "nested.y" },
      },
      {},
    );
    expect(result.outputs.y).toBe(5);
    expect(conductor.executions.get(`${result.executionId}/nested`)).toMatchObject({
      blueprintId: "middle",
      status: "completed",
    });
  });

  it("types a sub-blueprint's outputs by what they bind, through nested sub-blueprints", async () => {
    const listed = await conductor.nodeTypes();
    const port = (type: string, name: string) =>
      JSON.parse(
        listed
          .find((entry) => entry.nodeType.type === type)!
          .nodeType.outputs.find((output) => output.name === name)!.schema,
      ) as Record<string, unknown>;
    // middle.y is twice.y, a blueprint.inner whose y is test.add-one's x: a number.
    expect(port("blueprint.middle", "y")).toMatchObject({ type: "number" });
    expect(port("blueprint.describer", "text")).toMatchObject({ type: "string" });
    // A blueprint input bound straight to an output keeps the input's schema (here: any).
    expect(port("blueprint.describer", "echoed")).toEqual({});

    const { valid, diagnostics } = await conductor.validate({
      conductor: "blueprint/v1",
      nodes: {
        text: { type: "blueprint.describer", inputs: { value: { value: 1 } } },
        next: { type: "test.add-one", inputs: { x: "text.text" } },
      },
    });
    expect(valid).toBe(false);
    expect(diagnostics.map((d) => d.path)).toEqual(["nodes.next.inputs.x"]);
    expect(diagnostics[0]!.message).toContain("string");
  });

  it("reports a failure inside a sub-blueprint with the inner node", async () => {
    const { diagnostics } = await conductor.validate({
      conductor: "blueprint/v1",
      nodes: { nested: { type: "blueprint.inner", inputs: { x: { value: "text" } } } },
    });
    expect(diagnostics.map((d) => d.path)).toEqual(["nodes.nested.inputs.x"]);
  });

  it("rejects recursion at validation, naming the cycle", async () => {
    const { valid, diagnostics } = await conductor.validate(join(dir, "loop-a.yaml"));
    expect(valid).toBe(false);
    expect(diagnostics[0]).toMatchObject({
      path: "nodes.next.type",
      message:
        'blueprint "loop-a" would run itself: loop-a → loop-b → loop-a; a blueprint cannot use itself, directly or through others',
    });
  });
});
