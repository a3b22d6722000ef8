import { describe, expect, it } from "vitest";
import type { Project } from "../project/project-config.js";
import { impactOf } from "./change-impact.js";

const project: Project = {
  dir: "/p",
  file: "/p/conductor.yaml",
  blueprints: ["."],
  nodes: ["./nodes/greet.ts"],
  runtimes: {
    sidecar: { kind: "node", modules: ["./nodes/isolated.ts"] },
    py: { kind: "python", modules: ["sales"], path: ["python"] },
    other: { kind: "python", modules: ["other"] },
    rs: { kind: "rust", package: "crates/fast", binary: "fast" },
    tool: { kind: "command", command: ["./bin/tool", "--serve"] },
    wasm: { kind: "wasm", modules: ["wasm/checksum.wasm"] },
  },
};

describe("impactOf()", () => {
  it("reloads the in-process runtime and every Node sidecar for a TypeScript file", () => {
    expect(impactOf(["nodes/helper.ts"], project)).toEqual({
      blueprints: [],
      runtimes: ["sidecar", "builtin"],
      projectFile: false,
    });
  });

  it("restarts the Python runtimes whose path holds a Python file, and those without a path", () => {
    expect(impactOf(["/p/python/sales.py"], project).runtimes).toEqual(["py", "other"]);
    expect(impactOf(["/p/elsewhere/x.py"], project).runtimes).toEqual(["other"]);
  });

  it("restarts a Rust runtime for a file of its package, and a command runtime for its program", () => {
    expect(impactOf(["crates/fast/src/lib.rs", "crates/fast/Cargo.toml"], project).runtimes).toEqual(["rs"]);
    expect(impactOf(["bin/tool"], project).runtimes).toEqual(["tool"]);
  });

  it("reloads a wasm runtime for one of its modules or the manifest beside it, and for nothing else", () => {
    expect(impactOf(["wasm/checksum.wasm"], project).runtimes).toEqual(["wasm"]);
    expect(impactOf(["/p/wasm/checksum.nodes.json"], project).runtimes).toEqual(["wasm"]);
    expect(impactOf(["wasm/other.wasm", "wasm/checksum.cpp"], project).runtimes).toEqual([]);
  });

  it("gives YAML and JSON files as blueprint candidates, and conductor.yaml apart", () => {
    expect(impactOf(["flows/a.blueprint.yaml", "conductor.yaml"], project)).toEqual({
      blueprints: ["/p/flows/a.blueprint.yaml"],
      runtimes: [],
      projectFile: true,
    });
  });

  it("ignores dependencies, build output and Conductor's own files", () => {
    expect(
      impactOf(
        [
          "node_modules/x/index.js",
          "crates/fast/target/release/fast",
          ".conductor/journal.db",
          "python/__pycache__/sales.pyc",
        ],
        project,
      ),
    ).toEqual({ blueprints: [], runtimes: [], projectFile: false });
  });

  it("does not reload the in-process runtime of a project without node modules", () => {
    expect(impactOf(["x.ts"], { ...project, nodes: [], runtimes: {} }).runtimes).toEqual([]);
  });
});
