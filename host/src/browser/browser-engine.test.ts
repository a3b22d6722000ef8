import { defineNode } from "@conductor/sdk";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { createBrowserEngine } from "./browser-engine.js";
import { createMemoryJournal } from "./browser-journal.js";

// The page's engine, run in Node with its memory journal: the Chromium test (test/e2e/engine-browser.test.ts)
// runs the same engine in a page with IndexedDB.

const BLUEPRINT = `
conductor: blueprint/v1
id: slow-chain
inputs:
  n: { schema: { type: integer } }
outputs:
  n: after.n
  text: caption.text
nodes:
  before: { type: test.increment, config: { name: before }, inputs: { n: inputs.n } }
  slow: { type: test.slow, inputs: { n: before.n } }
  after: { type: test.increment, config: { name: after }, inputs: { n: slow.n } }
  caption: { type: core.template, config: { template: "n is {{.}}" }, inputs: { data: after.n } }
`;

/** Nodes that count their runs; `test.slow` waits until its gate opens. */
function testNodes() {
  const runs: Record<string, number> = {};
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const count = (name: string) => {
    runs[name] = (runs[name] ?? 0) + 1;
  };
  const nodes = [
    defineNode({
      type: "test.increment",
      config: z.object({ name: z.string() }),
      input: { n: z.number() },
      output: { n: z.number() },
      run: ({ n }, context) => {
        count((context.config as { name: string }).name);
        return { n: n + 1 };
      },
    }),
    defineNode({
      type: "test.slow",
      input: { n: z.number() },
      output: { n: z.number() },
      run: async ({ n }) => {
        count("slow");
        await gate;
        return { n: n * 10 };
      },
    }),
  ];
  return { nodes, runs, open };
}

describe("createBrowserEngine()", () => {
  it("runs a blueprint of page and built-in nodes, with events in order", async () => {
    const { nodes, open } = testNodes();
    open();
    const engine = createBrowserEngine({ nodes });
    const events: string[] = [];
    const result = await engine.run(
      BLUEPRINT,
      { n: 1 },
      {
        onEvent: (event) => events.push("nodeId" in event ? `${event.type} ${event.nodeId}` : event.type),
      },
    );
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ n: 21, text: "n is 21" });
    expect(events.filter((line) => line.startsWith("node.completed"))).toEqual([
      "node.completed before",
      "node.completed slow",
      "node.completed after",
      "node.completed caption",
    ]);
    expect(events.at(-1)).toBe("execution.finished");
    await engine.close();
  });

  it("refuses bad input with the host's messages", async () => {
    const engine = createBrowserEngine({ nodes: testNodes().nodes });
    await expect(engine.validate(BLUEPRINT.replace("test.slow", "test.slower"))).rejects.toThrow(
      'nodes.slow.type: unknown node type "test.slower"',
    );
    await expect(engine.run(BLUEPRINT, { n: "one" })).rejects.toThrow("inputs.n");
    await expect(engine.resume("nobody")).rejects.toThrow('the journal has no execution "nobody"');
    await engine.close();
  });

  it("resumes from its journal an execution another engine left running, without re-running finished nodes", async () => {
    const journal = createMemoryJournal();
    const first = testNodes();
    const gone = createBrowserEngine({ nodes: first.nodes, journal });
    const slowStarted = new Promise<void>((resolve) => {
      void gone.start(
        BLUEPRINT,
        { n: 1 },
        {
          onEvent: (event: ExecutionEvent) => {
            if (event.type === "node.started" && event.nodeId === "slow") resolve();
          },
        },
      );
    });
    await slowStarted;
    expect(first.runs).toEqual({ before: 1, slow: 1 });
    // The page is gone (its engine is never closed, its slow node never finishes); a new one opens the journal.
    const second = testNodes();
    const engine = createBrowserEngine({ nodes: second.nodes, journal });
    const [resumed] = await engine.resumeUnfinished();
    second.open();
    const result = await resumed!.result;
    expect(result.outputs).toEqual({ n: 21, text: "n is 21" });
    expect(second.runs).toEqual({ slow: 1, after: 1 });
    expect(await journal.unfinished()).toEqual([]);
    await expect(engine.resume(resumed!.executionId)).rejects.toThrow("already completed; nothing to resume");
    await engine.close();
  });

  it("runs sub-blueprints in the page, and refuses a blueprint that would run itself", async () => {
    const { nodes, open, runs } = testNodes();
    open();
    const child = `
conductor: blueprint/v1
id: add-two
inputs:
  n: { schema: { type: number } }
outputs:
  n: second.n
nodes:
  first: { type: test.increment, config: { name: first }, inputs: { n: inputs.n } }
  second: { type: test.increment, config: { name: second }, inputs: { n: first.n } }
`;
    const parent = `
conductor: blueprint/v1
id: uses-add-two
inputs:
  n: { schema: { type: number } }
outputs:
  n: twice.n
  text: caption.text
nodes:
  once: { type: blueprint.add-two, inputs: { n: inputs.n } }
  twice: { type: blueprint.add-two, inputs: { n: once.n } }
  caption: { type: core.template, config: { template: "n is {{.}}" }, inputs: { data: twice.n } }
`;
    const journal = createMemoryJournal();
    const engine = createBrowserEngine({ nodes, blueprints: [child], journal });
    const result = await engine.run(parent, { n: 1 }, { executionId: "parent" });
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ n: 5, text: "n is 5" });
    expect(result.nodes.once?.runtime).toBe("blueprints");
    expect(runs).toEqual({ first: 2, second: 2 });
    // The journal records the parent only; its children run again with it after a reload.
    expect(await journal.execution("parent")).toMatchObject({ status: "completed" });
    expect(await journal.execution("parent/once")).toBeUndefined();
    expect(await journal.events("parent/once")).toEqual([]);

    const loop = createBrowserEngine({
      nodes,
      blueprints: [
        child.replace("type: test.increment, config: { name: second }", "type: blueprint.add-two"),
      ],
    });
    await expect(loop.validate(parent)).rejects.toThrow(
      'nodes.once.type: blueprint "uses-add-two" would run itself',
    );
    await loop.close();
    await engine.close();
  });
});
