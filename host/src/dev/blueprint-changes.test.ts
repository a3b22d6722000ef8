import { describe, expect, it } from "vitest";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { changedNodes, documentChanged } from "./blueprint-changes.js";

const document = (nodes: Record<string, unknown>, outputs: Record<string, string> = {}) =>
  ({ conductor: "blueprint/v1", id: "flow", outputs, nodes }) as unknown as BlueprintDocument;

describe("changedNodes()", () => {
  it("gives the nodes added and the nodes whose definition changed, not the removed or untouched ones", () => {
    const before = document({
      a: { type: "core.constant", config: { value: 1 } },
      b: { type: "x.y", inputs: { v: "a.value" } },
      gone: { type: "x.z" },
    });
    const after = document({
      a: { type: "core.constant", config: { value: 1 } },
      b: { type: "x.y", inputs: { v: "a.value" }, retry: { maxAttempts: 2 } },
      added: { type: "x.z" },
    });
    expect(changedNodes(before, after)).toEqual(["b", "added"]);
  });

  it("counts every node as changed without an earlier version", () => {
    expect(changedNodes(undefined, document({ a: { type: "t" }, b: { type: "t" } }))).toEqual(["a", "b"]);
  });
});

describe("documentChanged()", () => {
  it("tells an edit of the outputs from an edit of the nodes alone", () => {
    const nodes = { a: { type: "t" } };
    expect(documentChanged(document(nodes, { x: "a.v" }), document(nodes, { y: "a.v" }))).toBe(true);
    expect(documentChanged(document(nodes), document({ a: { type: "u" } }))).toBe(false);
  });
});
