import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseProject } from "../project-config.js";
import { moduleScope, packageBaseName, pathTo, projectScaffold } from "./project-scaffold.js";
import { shippedFile } from "./shipped-files.js";

describe("projectScaffold()", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), "my-flows-")));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const file = (files: ReturnType<typeof projectScaffold>, path: string) =>
    files.find((candidate) => candidate.path === path)?.content;

  it("writes a valid conductor.yaml whose runtimes serve the blueprint's node types", () => {
    const files = projectScaffold({ dir, rust: true });
    const project = parseProject(file(files, "conductor.yaml")!, join(dir, "conductor.yaml"));
    expect(project.blueprints).toEqual(["flows"]);
    expect(project.nodes).toEqual(["./nodes/greet.ts"]);
    expect(project.runtimes).toEqual({
      python: {
        kind: "python",
        path: ["python"],
        modules: ["nodes.word_count"],
        requirements: ["pytest>=8"],
      },
      rust: { kind: "rust", package: "rust", binary: `${packageBaseName(dir)}-nodes` },
    });
    const blueprint = file(files, "flows/hello.blueprint.yaml")!;
    for (const type of ["ts.greet", "py.word-count", "rs.shout"])
      expect(blueprint).toContain(`type: ${type}`);
    expect(file(files, "nodes/greet.ts")).toContain('type: "ts.greet"');
    expect(file(files, "python/nodes/word_count.py")).toContain('@node("py.word-count"');
    expect(file(files, "rust/src/nodes/shout.rs")).toContain('NodeSpec::new("rs.shout", "1")');
    expect(file(files, "rust/Cargo.toml")).toContain(
      `conductor-runtime = { path = "${shippedFile("rust-crate")}" }`,
    );
  });

  it("has no Rust crate or runtime without rust", () => {
    const files = projectScaffold({ dir });
    expect(files.some((candidate) => candidate.path.startsWith("rust/"))).toBe(false);
    expect(file(files, "conductor.yaml")).not.toContain("kind: rust");
    expect(file(files, "flows/hello.blueprint.yaml")).not.toContain("rs.shout");
  });

  it("points the editors at the JSON Schemas of both formats", () => {
    const files = projectScaffold({ dir });
    expect(file(files, "conductor.yaml")!.split("\n")[0]).toBe(
      `# yaml-language-server: $schema=${shippedFile("project-schema")}`,
    );
    expect(file(files, "flows/hello.blueprint.yaml")!.split("\n")[0]).toBe(
      `# yaml-language-server: $schema=${shippedFile("blueprint-schema")}`,
    );
    expect(JSON.parse(file(files, ".vscode/settings.json")!)).toEqual({
      "yaml.schemas": {
        [shippedFile("project-schema")]: "conductor.yaml",
        [shippedFile("blueprint-schema")]: ["*.blueprint.yaml", "flows/**/*.yaml"],
      },
    });
  });
});

describe("pathTo()", () => {
  it("is relative inside the project, so the project can move, and absolute outside it", () => {
    const dir = join(tmpdir(), "p");
    const schema = join(dir, "node_modules", "@conductor", "host", "schemas", "blueprint.schema.json");
    expect(pathTo(schema, dir, "flows")).toBe(
      "../node_modules/@conductor/host/schemas/blueprint.schema.json",
    );
    expect(pathTo(schema, dir, ".")).toBe("node_modules/@conductor/host/schemas/blueprint.schema.json");
    const elsewhere = join(tmpdir(), "elsewhere", "conductor-runtime");
    expect(pathTo(elsewhere, dir, "rust")).toBe(elsewhere);
  });
});

describe("moduleScope()", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "scope-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("makes a package.json saying type module when the project has none", () => {
    const [file] = moduleScope(dir);
    expect(file).toMatchObject({ path: "package.json", mode: "keep" });
    expect(JSON.parse(file!.content)).toMatchObject({ private: true, type: "module" });
  });

  it("scopes nodes/ as ES modules when the project's package.json says commonjs or nothing", async () => {
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "x", type: "commonjs" }));
    expect(moduleScope(dir).map((file) => [file.path, JSON.parse(file.content).type])).toEqual([
      ["nodes/package.json", "module"],
    ]);
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "x" }));
    expect(moduleScope(dir).map((file) => file.path)).toEqual(["nodes/package.json"]);
  });

  it("adds nothing when the project's package.json says type module", async () => {
    await mkdir(join(dir, "nodes"));
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "x", type: "module" }));
    expect(moduleScope(dir)).toEqual([]);
  });
});

describe("packageBaseName()", () => {
  it("makes a cargo- and npm-safe name from the directory", () => {
    expect(packageBaseName("/projects/My Flows")).toBe("my-flows");
    expect(packageBaseName("/projects/2024_reports")).toBe("reports");
    expect(packageBaseName("/projects/___")).toBe("conductor");
  });
});
