import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectAccess } from "./project-access.js";

const dir = join(tmpdir(), "app");

describe("projectAccess()", () => {
  it("defaults to files under the project, core.shell for its own blueprints, and no public webhook", () => {
    const access = projectAccess({ dir, blueprints: ["."], nodes: [], runtimes: {} });
    expect(access.fileDirectories).toEqual([dir]);
    expect(access.protectedPaths).toEqual([join(dir, ".conductor"), join(dir, "conductor.yaml")]);
    expect(access.shell).toBe("project");
    expect([...access.publicWebhooks]).toEqual([]);
  });

  it("resolves the file directories against the project", () => {
    const access = projectAccess({
      dir,
      blueprints: ["."],
      nodes: [],
      runtimes: {},
      access: { files: ["data", "../shared", "/srv/in"], shell: "none", publicWebhooks: ["greet"] },
    });
    expect(access.fileDirectories).toEqual([join(dir, "data"), join(tmpdir(), "shared"), "/srv/in"]);
    expect(access.shell).toBe("none");
    expect(access.publicWebhooks.has("greet")).toBe(true);
  });
});
