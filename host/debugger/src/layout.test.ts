import { create } from "@bufbuild/protobuf";
import { BlueprintGraphSchema, GraphEdgeSchema, GraphNodeSchema } from "@conductor/sdk/client";
import { describe, expect, it } from "vitest";
import { layoutGraph } from "./layout.js";

function graphOf(nodes: string[], edges: [string, string][]) {
  return create(BlueprintGraphSchema, {
    nodes: nodes.map((id) => create(GraphNodeSchema, { id, type: "core.passthrough", runtime: "builtin" })),
    edges: edges.map(([fromNode, toNode]) =>
      create(GraphEdgeSchema, { fromNode, fromPort: "value", toNode, toPort: "value" }),
    ),
  });
}

describe("layoutGraph()", () => {
  it("runs a chain down the canvas, where it fits at its natural size", () => {
    const layout = layoutGraph(
      graphOf(
        ["a", "b", "c", "d"],
        [
          ["a", "b"],
          ["b", "c"],
          ["c", "d"],
        ],
      ),
    );
    const [a, b, c, d] = ["a", "b", "c", "d"].map((id) => layout.nodes.find((node) => node.id === id)!);
    expect(new Set([a!.x, b!.x, c!.x, d!.x]).size).toBe(1);
    expect(a!.y < b!.y && b!.y < c!.y && c!.y < d!.y).toBe(true);
    expect(layout.width).toBeLessThan(300);
  });

  it("runs a wide fan-out across, so that its many branches stack down the canvas", () => {
    const branches = Array.from({ length: 20 }, (_, i) => `branch${i}`);
    const layout = layoutGraph(
      graphOf(
        ["source", ...branches],
        branches.map((branch) => ["source", branch]),
      ),
    );
    const source = layout.nodes.find((node) => node.id === "source")!;
    const placed = layout.nodes.filter((node) => node.id.startsWith("branch"));
    expect(new Set(placed.map((node) => node.x)).size).toBe(1);
    expect(placed[0]!.x).toBeGreaterThan(source.x);
    expect(layout.height).toBeGreaterThan(layout.width);
  });

  it("labels each edge with its ports and leaves room for the label between the nodes it joins", () => {
    const graph = create(BlueprintGraphSchema, {
      nodes: ["render", "shout"].map((id) => create(GraphNodeSchema, { id, type: "core.template" })),
      edges: [
        create(GraphEdgeSchema, { fromNode: "render", fromPort: "text", toNode: "shout", toPort: "value" }),
      ],
    });
    const layout = layoutGraph(graph);
    const [edge] = layout.edges;
    expect(edge?.label).toBe("text → value");
    const [render, shout] = ["render", "shout"].map((id) => layout.nodes.find((node) => node.id === id)!);
    const at = edge!.labelAt!;
    // Down the page or across, the label sits between the two boxes, not on either of them.
    const between =
      render!.y < shout!.y
        ? at.y > render!.y + render!.height / 2 && at.y < shout!.y - shout!.height / 2
        : at.x > render!.x + render!.width / 2 && at.x < shout!.x - shout!.width / 2;
    expect(between).toBe(true);
  });
});
