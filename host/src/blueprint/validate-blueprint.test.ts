import { createNodeRuntime, defineNode, values } from "@conductor/sdk";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { fromData, parseBlueprint } from "./load-blueprint.js";
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

  it("refuses runsOn on a node whose runtime runs in the host, and takes it on a runtime run by workers", async () => {
    const yaml = `
conductor: blueprint/v1
nodes:
  read: { type: test.read-table, runsOn: [gpu], config: { path: a.csv } }
`;
    const local = await validateBlueprint(parseBlueprint(yaml), {
      ...catalog,
      features: () => ["session.steps"],
    });
    expect(local.diagnostics).toEqual([
      {
        path: "nodes.read.runsOn",
        message:
          'node "read" requires worker labels gpu, but its runtime "builtin" runs in this host, not on workers',
        suggestion:
          "run its runtime on workers: conductor serve --redis <url> --remote builtin, and conductor worker --labels gpu",
      },
    ]);
    const remote = await validateBlueprint(parseBlueprint(yaml), {
      ...catalog,
      features: () => ["session.steps", "conductor.worker-labels"],
    });
    expect(remote.diagnostics).toEqual([]);
    expect(remote.graph!.nodes[0]!.document.runsOn).toEqual(["gpu"]);
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

  it("finds a cycle through 10,000 nodes without overflowing the stack, and names its ends", async () => {
    const count = 10_000;
    const nodes: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) {
      nodes[`n${i}`] = { type: "test.format", inputs: { text: `n${(i + 1) % count}.text` } };
    }
    const { diagnostics } = await validateBlueprint(fromData({ conductor: "blueprint/v1", nodes }), catalog);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.path).toBe("nodes.n0");
    expect(diagnostics[0]!.message).toMatch(
      /^the graph has a cycle: n0 → n9999 → n9998 → .* … \(10000 nodes in all\) … → .* → n1 → n0; a blueprint must be acyclic$/,
    );
  });

  it("orders a chain of 10,000 nodes", async () => {
    const count = 10_000;
    const nodes: Record<string, unknown> = {};
    for (let i = count - 1; i >= 0; i--) {
      nodes[`n${i}`] = { type: "test.format", inputs: { text: i === 0 ? { value: "x" } : `n${i - 1}.text` } };
    }
    const result = await validateBlueprint(fromData({ conductor: "blueprint/v1", nodes }), catalog);
    expect(result.diagnostics).toEqual([]);
    const order = result.graph!.order.map((index) => result.graph!.nodes[index]!.id);
    expect(order[0]).toBe("n0");
    expect(order[count - 1]).toBe(`n${count - 1}`);
  });

  it("suggests among the blueprint's own names for the first problems only, and lists long name lists in part", async () => {
    const lines = ["conductor: blueprint/v1", "inputs:"];
    for (let i = 0; i < 30; i++) lines.push(`  in${i}: { schema: { type: string } }`);
    lines.push("nodes:");
    for (let i = 0; i < 150; i++)
      lines.push(`  n${i}: { type: test.format, inputs: { text: inputs.inx${i} } }`);
    const diagnostics = await diagnose(lines.join("\n"));
    expect(diagnostics).toHaveLength(150);
    expect(diagnostics[0]!.message).toBe(
      `"inputs.inx0" names blueprint input "inx0", which is not declared; declared inputs: ${Array.from({ length: 20 }, (_, i) => `"in${i}"`).join(", ")}, … (30 in all)`,
    );
    expect(diagnostics[0]!.suggestion).toBe('did you mean "in0"?');
    expect(diagnostics[149]!.suggestion).toBe("declare it under inputs:");
  });
});
