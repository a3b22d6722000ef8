import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseProject } from "./project-config.js";

const dir = join(tmpdir(), "app");
const file = join(dir, "conductor.yaml");

describe("parseProject()", () => {
  it("reads runtimes and resolves nothing it does not need to", () => {
    const project = parseProject(
      "conductor: project/v1\nruntimes:\n  rs: { kind: rust, package: ./rust, binary: my-runtime }\n",
      file,
    );
    expect(project.dir).toBe(dir);
    expect(project.runtimes.rs).toEqual({ kind: "rust", package: "./rust", binary: "my-runtime" });
  });

  it("names each problem by its path: a missing field, an unknown one, a wrong type", () => {
    const read = () =>
      parseProject(
        "conductor: project/v1\nblueprints: flows\nruntimes:\n  rs: { kind: rust, pakage: ./rust }\n",
        file,
      );
    expect(read).toThrow(
      [
        `project file ${file} is invalid:`,
        "  blueprints: expected a list, found a string",
        "  runtimes.rs.binary: missing (expected a string)",
        '  runtimes.rs: unknown field "pakage"',
      ].join("\n"),
    );
  });

  it("reads the access rules, and names a wrong one", () => {
    const project = parseProject(
      "conductor: project/v1\naccess:\n  files: [., ../data]\n  shell: any\n  publicWebhooks: [greet]\n",
      file,
    );
    expect(project.access).toEqual({ files: [".", "../data"], shell: "any", publicWebhooks: ["greet"] });
    expect(() =>
      parseProject("conductor: project/v1\naccess:\n  shell: always\n  file: [.]\n", file),
    ).toThrow(
      [
        `project file ${file} is invalid:`,
        '  access.shell: expected one of "none", "project" or "any"',
        '  access: unknown field "file"',
      ].join("\n"),
    );
  });
});
