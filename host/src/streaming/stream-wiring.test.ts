import { create } from "@bufbuild/protobuf";
import { NodeTypeSchema, PortSchema } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import type { GraphNode } from "../blueprint/blueprint-graph.js";
import { checkStreamRuntime } from "./stream-wiring.js";

function nodeOn(runtime: string, stream: boolean): GraphNode {
  const nodeType = create(NodeTypeSchema, {
    type: "demo.lines",
    outputs: [create(PortSchema, { name: "lines", schema: "{}", stream })],
  });
  return { id: "read", type: "demo.lines", runtime, nodeType, policy: {} } as GraphNode;
}

describe("checkStreamRuntime()", () => {
  it("refuses stream ports on a runtime that does not announce stream.credits", () => {
    expect(checkStreamRuntime(nodeOn("node", true), ["session.steps", "values.arrow"])).toEqual({
      message:
        'node "read" (demo.lines) has stream ports (lines), but runtime "node" did not announce the feature "stream.credits", so it cannot carry streams (docs/protocol.md §3.5)',
      suggestion:
        "run the node type on a runtime that serves streams (the host's own process, the Node sidecar, Python, Rust), or use ports holding one value",
    });
  });

  it("refuses stream ports on a node that maps over a list", () => {
    const node = nodeOn("host", true);
    node.policy = { ...node.policy, map: { over: "x", concurrency: 1 } };
    expect(checkStreamRuntime(node, ["stream.credits"])?.message).toBe(
      'node "read" (demo.lines) has stream ports (lines) and maps over a list; a mapped node cannot stream',
    );
  });

  it("accepts them where the runtime announces the feature, and nodes without stream ports anywhere", () => {
    expect(checkStreamRuntime(nodeOn("host", true), ["stream.credits"])).toBeUndefined();
    expect(checkStreamRuntime(nodeOn("node", false), [])).toBeUndefined();
    expect(checkStreamRuntime(nodeOn("node", true), undefined)).toBeUndefined();
  });
});
