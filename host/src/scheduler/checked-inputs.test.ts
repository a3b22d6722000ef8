import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNodeRuntime, defineNode } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { parseBlueprint } from "../blueprint/load-blueprint.js";
import { type NodeTypeCatalog, validateBlueprint } from "../blueprint/validate-blueprint.js";
import { type Conductor, createConductor } from "../conductor.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import { findCheckedInputs } from "./checked-inputs.js";

/** A Set-like node: passes an object on with one more field; `broken` makes it return something else. */
const setField = defineNode({
  type: "test.set-field",
  config: z.object({ name: z.string(), broken: z.boolean().default(false) }),
  input: { item: z.record(z.string(), z.unknown()) },
  output: { item: z.record(z.string(), z.unknown()), count: z.number() },
  run: ({ item }, ctx) => ({
    item: ctx.config.broken ? (["not", "an", "object"] as never) : { ...item, [ctx.config.name]: true },
    count: Object.keys(item).length,
  }),
});

/** Takes a closed object: a z.object() strips what it does not list, so its input is always parsed. */
const pick = defineNode({
  type: "test.pick",
  input: { item: z.object({ a: z.boolean() }), count: z.number().min(0) },
  output: { a: z.boolean() },
  run: ({ item }) => ({ a: item.a }),
});

const nodes = [setField, pick];

const BLUEPRINT = `
conductor: blueprint/v1
inputs: { start: { schema: { type: object } } }
nodes:
  one: { type: test.set-field, config: { name: a }, inputs: { item: inputs.start } }
  two: { type: test.set-field, config: { name: b }, inputs: { item: one.item } }
  last: { type: test.pick, inputs: { item: two.item, count: two.count } }
outputs: { item: two.item, a: last.a }
`;

describe("findCheckedInputs()", () => {
  const runtime = createNodeRuntime({ nodes });
  const catalog: NodeTypeCatalog = {
    runtimesFor: (type) => (runtime.nodeType(type) === undefined ? [] : ["builtin"]),
    nodeType: (type) => runtime.nodeType(type),
    knownTypes: () => runtime.nodeTypes.map((t) => t.type),
    runtimeNames: () => ["builtin"],
    validateConfig: async () => [],
  };

  it("marks inputs read from a checking runtime's output that the port provably accepts, and no others", async () => {
    const { graph } = await validateBlueprint(parseBlueprint(BLUEPRINT), catalog);
    if (graph === undefined) throw new Error("expected the blueprint to validate");
    const checking = { checksOutputs: true } as RuntimeConnection;
    const checked = findCheckedInputs(
      graph,
      graph.nodes.map(() => checking),
    );
    const byId = Object.fromEntries(graph.nodes.map((node) => [node.id, [...(checked[node.index] ?? [])]]));
    // one: a blueprint input (checked by the host against its own schema, not a node's output); last.item: a
    // record does not prove an object with a required boolean "a"; last.count: a number is not shown to be at least 0.
    expect(byId).toEqual({ one: [], two: ["item"], last: [] });
    const notChecking = findCheckedInputs(
      graph,
      graph.nodes.map(() => ({}) as RuntimeConnection),
    );
    expect(notChecking.every((ports) => ports === undefined)).toBe(true);
  });
});

describe("a chain of in-process nodes with checked inputs", () => {
  let conductor: Conductor;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "checked-inputs-"));
    conductor = await createConductor({
      builtinNodes: false,
      nodes,
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });
  });

  afterAll(async () => {
    await conductor.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("passes the growing object on and runs to the end", async () => {
    const result = await conductor.run(parseBlueprint(BLUEPRINT).document, { start: { x: 1 } });
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ item: { x: 1, a: true, b: true }, a: true });
  });

  it("still catches a node's wrong output, against its own schema", async () => {
    const broken = BLUEPRINT.replace("config: { name: a }", "config: { name: a, broken: true }");
    const result = await conductor.run(parseBlueprint(broken).document, { start: { x: 1 } });
    expect(result.status).toBe("failed");
    expect(result.failure).toMatchObject({
      nodeId: "one",
      type: "output.invalid",
      retryable: false,
      message: expect.stringContaining('node "one" (test.set-field): output "item": expected record'),
    });
  });
});
