import { createNodeRuntime, defineNode, values } from "@conductor/sdk";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseBlueprint } from "./load-blueprint.js";
import { type NodeTypeCatalog, validateBlueprint } from "./validate-blueprint.js";

const runtime = createNodeRuntime({
  nodes: [
    defineNode({
      type: "test.read-table",
      config: z.object({ path: z.string() }),
      output: { table: values.table(), rows: z.number().int() },
      run: () => ({ table: undefined as never, rows: 0 }),
    }),
    defineNode({
      type: "test.stats",
      input: { table: values.table() },
      output: { summary: z.object({ mean: z.number() }) },
      run: () => ({ summary: { mean: 0 } }),
    }),
    defineNode({
      type: "test.format",
      input: { text: z.string(), count: z.number().optional() },
      output: { text: z.string() },
      run: ({ text }) => ({ text }),
    }),
  ],
});

const catalog: NodeTypeCatalog = {
  runtimesFor: (type) => (runtime.nodeTypes.some((t) => t.type === type) ? ["builtin"] : []),
  nodeType: (type) => runtime.nodeTypes.find((t) => t.type === type),
  knownTypes: () => runtime.nodeTypes.map((t) => t.type),
  runtimeNames: () => ["builtin"],
  validateConfig: async (_runtime, type, config) =>
    runtime.validateConfig(type, config).map((d) => ({ path: d.path, message: d.message })),
};

async function diagnose(yaml: string) {
  const result = await validateBlueprint(parseBlueprint(yaml, "test.yaml"), catalog);
  return result.diagnostics;
}

describe("validateBlueprint()", () => {
  it("accepts a well-formed blueprint and orders its nodes", async () => {
    const result = await validateBlueprint(
      parseBlueprint(`
conductor: blueprint/v1
outputs: { mean: stats.summary }
nodes:
  stats: { type: test.stats, inputs: { table: read.table } }
  read: { type: test.read-table, config: { path: a.csv } }
`),
      catalog,
    );
    expect(result.diagnostics).toEqual([]);
    expect(result.graph!.order.map((i) => result.graph!.nodes[i]!.id)).toEqual(["read", "stats"]);
  });

  it("names an unknown node type with a suggestion", async () => {
    expect(
      await diagnose(`
conductor: blueprint/v1
nodes:
  stats: { type: test.stat }
`),
    ).toEqual([
      {
        path: "nodes.stats.type",
        message: 'unknown node type "test.stat"; no runtime of the project serves it',
        suggestion: 'did you mean "test.stats"?',
      },
    ]);
  });

  it("reports unknown and missing ports by path", async () => {
    const diagnostics = await diagnose(`
conductor: blueprint/v1
nodes:
  read: { type: test.read-table, config: { path: a.csv } }
  stats: { type: test.stats, inputs: { tabel: read.table } }
`);
    expect(diagnostics).toEqual([
      {
        path: "nodes.stats.inputs.tabel",
        message: 'node type "test.stats" has no input "tabel"; its inputs are "table"',
        suggestion: 'did you mean "table"?',
      },
      expect.objectContaining({
        path: "nodes.stats.inputs.table",
        message: 'missing required input "table" of node type "test.stats" (an Arrow table)',
      }),
    ]);
  });

  it("reports an output port that does not exist", async () => {
    const diagnostics = await diagnose(`
conductor: blueprint/v1
nodes:
  read: { type: test.read-table, config: { path: a.csv } }
  stats: { type: test.stats, inputs: { table: read.tables } }
`);
    expect(diagnostics).toEqual([
      {
        path: "nodes.stats.inputs.table",
        message: 'node "read" (test.read-table) has no output "tables"; its outputs are "table", "rows"',
        suggestion: 'did you mean "table"?',
      },
    ]);
  });

  it("reports a type mismatch between connected ports, expected vs found", async () => {
    const diagnostics = await diagnose(`
conductor: blueprint/v1
nodes:
  read: { type: test.read-table, config: { path: a.csv } }
  format: { type: test.format, inputs: { text: read.table, count: read.rows } }
`);
    expect(diagnostics).toEqual([
      {
        path: "nodes.format.inputs.text",
        message:
          'type mismatch: output "table" of node "read" (test.read-table) gives an Arrow table, input "text" of "test.format" expected string, found an Arrow table',
      },
    ]);
  });

  it("refuses an Arrow table to a runtime that did not announce values.arrow, naming it", async () => {
    const withoutArrow: NodeTypeCatalog = { ...catalog, features: () => ["session.steps"] };
    const result = await validateBlueprint(
      parseBlueprint(`
conductor: blueprint/v1
nodes:
  read: { type: test.read-table, config: { path: a.csv } }
  stats: { type: test.stats, inputs: { table: read.table } }
`),
      withoutArrow,
    );
    expect(result.diagnostics).toEqual([
      {
        path: "nodes.stats.inputs.table",
        message:
          'output "table" of node "read" (test.read-table) gives an Arrow table, but runtime "builtin" did not announce "values.arrow" in its handshake and cannot read an Arrow table; convert the table to JSON or bytes before this node, or serve the node from a runtime that reads Arrow',
      },
    ]);
    const withArrow = await validateBlueprint(
      parseBlueprint(`
conductor: blueprint/v1
nodes:
  read: { type: test.read-table, config: { path: a.csv } }
  stats: { type: test.stats, inputs: { table: read.table } }
`),
      { ...catalog, features: () => ["values.arrow"] },
    );
    expect(withArrow.diagnostics).toEqual([]);
  });

  it("reports a cycle with its path", async () => {
    const diagnostics = await diagnose(`
conductor: blueprint/v1
nodes:
  a: { type: test.format, inputs: { text: c.text } }
  b: { type: test.format, inputs: { text: a.text } }
  c: { type: test.format, inputs: { text: b.text } }
`);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.message).toBe("the graph has a cycle: a → b → c → a; a blueprint must be acyclic");
  });

  it("reports a duplicate node id with its line", async () => {
    await expect(
      diagnose(`conductor: blueprint/v1
nodes:
  a: { type: test.format, inputs: { text: { value: x } } }
  a: { type: test.format, inputs: { text: { value: y } } }
`),
    ).rejects.toThrow('duplicate key "a" (line 4, column 3)');
  });

  it("reports bad config under the node's config path", async () => {
    expect(
      await diagnose(`
conductor: blueprint/v1
nodes:
  read: { type: test.read-table, config: { path: 42 } }
`),
    ).toEqual([
      { path: "nodes.read.config.path", message: 'config "path": expected string, found number 42' },
    ]);
  });

  it("reports an undeclared blueprint input and a missing node", async () => {
    const diagnostics = await diagnose(`
conductor: blueprint/v1
inputs:
  title: { schema: { type: string } }
nodes:
  format: { type: test.format, inputs: { text: inputs.titel, count: reed.rows } }
`);
    expect(diagnostics.map((d) => [d.path, d.suggestion])).toEqual([
      ["nodes.format.inputs.text", 'did you mean "title"?'],
      ["nodes.format.inputs.count", undefined],
    ]);
    expect(diagnostics[1]!.message).toBe('"reed.rows" names node "reed", which does not exist');
  });

  it("rejects a file that does not follow the format, naming the field", async () => {
    await expect(
      diagnose("conductor: blueprint/v1\nnodes:\n  a: { type: test.format, inptus: {} }\n"),
    ).rejects.toThrow('nodes.a: unknown field "inptus"');
  });
});
