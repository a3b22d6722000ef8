import { createNodeRuntime, defineNode } from "@conductor/sdk";
import { describe, expect, it } from "vitest";
import { parseBlueprint } from "./load-blueprint.js";
import { type NodeTypeCatalog, validateBlueprint } from "./validate-blueprint.js";

const runtime = createNodeRuntime({
  nodes: [defineNode({ type: "test.fetch", timeoutMs: 750, run: () => ({}) })],
});

const catalog: NodeTypeCatalog = {
  runtimesFor: () => ["builtin"],
  nodeType: (type) => runtime.nodeType(type),
  knownTypes: () => ["test.fetch"],
  runtimeNames: () => ["builtin"],
  validateConfig: async () => [],
};

async function timeoutOf(node: string): Promise<number | undefined> {
  const result = await validateBlueprint(
    parseBlueprint(`conductor: blueprint/v1\nnodes:\n  fetch: ${node}\n`, "test.yaml"),
    catalog,
  );
  expect(result.diagnostics).toEqual([]);
  return result.graph?.byId.get("fetch")?.policy.timeoutMs;
}

// The host applies a node type's default_timeout_ms, so a runtime only honours Step.timeout_ms (docs/protocol.md §3.1).
describe("validateBlueprint() timeouts", () => {
  it("gives a node the default timeout of its node type", async () => {
    expect(runtime.nodeType("test.fetch")?.defaultTimeoutMs).toBe(750);
    expect(await timeoutOf("{ type: test.fetch }")).toBe(750);
  });

  it("lets the blueprint set another timeout", async () => {
    expect(await timeoutOf("{ type: test.fetch, timeoutMs: 100 }")).toBe(100);
    expect(await timeoutOf("{ type: test.fetch, timeoutMs: 5000 }")).toBe(5000);
  });
});
