import { describe, expect, it } from "vitest";
import { parseProject } from "./project-config.js";

describe("parseProject()", () => {
  it("reads runtimes and resolves nothing it does not need to", () => {
    const project = parseProject(
      "conductor: project/v1\nruntimes:\n  rs: { kind: rust, package: ./rust, binary: my-runtime }\n",
      "/work/app/conductor.yaml",
    );
    expect(project.dir).toBe("/work/app");
    expect(project.runtimes.rs).toEqual({ kind: "rust", package: "./rust", binary: "my-runtime" });
  });

  it("names each problem by its path: a missing field, an unknown one, a wrong type", () => {
    const read = () =>
      parseProject(
        "conductor: project/v1\nblueprints: flows\nruntimes:\n  rs: { kind: rust, pakage: ./rust }\n",
        "/work/app/conductor.yaml",
      );
    expect(read).toThrow(
      [
        "project file /work/app/conductor.yaml is invalid:",
        "  blueprints: expected a list, found a string",
        "  runtimes.rs.binary: missing (expected a string)",
        '  runtimes.rs: unknown field "pakage"',
      ].join("\n"),
    );
  });
});
