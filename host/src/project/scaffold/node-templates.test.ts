import { describe, expect, it } from "vitest";
import { nodeNames } from "./node-names.js";
import { registerRustNode, rustCrate } from "./node-templates.js";

describe("registerRustNode()", () => {
  const modRs = rustCrate({ packageName: "x-nodes", runtimeCrate: "../rt", node: nodeNames("rs.shout") })[
    "src/nodes/mod.rs"
  ]!;

  it("adds a sorted mod line and a node call, on one line while the chain is short", () => {
    const once = registerRustNode(modRs, nodeNames("rs.add"))!;
    expect(once).toContain("mod add;\nmod shout;\n");
    expect(once).toContain("    Registry::new().node(shout::Shout).node(add::Add)\n}");
  });

  it("puts one call per line once the chain is long, as rustfmt does", () => {
    const twice = registerRustNode(
      registerRustNode(modRs, nodeNames("rs.add"))!,
      nodeNames("rs.word-lengths"),
    )!;
    expect(twice).toContain("mod add;\nmod shout;\nmod word_lengths;\n");
    expect(twice).toContain(
      "    Registry::new()\n        .node(shout::Shout)\n        .node(add::Add)\n        .node(word_lengths::WordLengths)\n}",
    );
  });

  it("gives up on a file without mod lines or without a Registry, so the caller says what to add", () => {
    expect(registerRustNode("pub fn registry() -> Registry { Registry::new() }\n", nodeNames("rs.a"))).toBe(
      undefined,
    );
    expect(registerRustNode("mod a;\npub fn registry() {}\n", nodeNames("rs.b"))).toBe(undefined);
  });
});
