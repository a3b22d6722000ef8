import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseProject } from "../project-config.js";
import { newNode } from "./new-node.js";
import { projectScaffold } from "./project-scaffold.js";
import { writeScaffold } from "./write-scaffold.js";

describe("newNode()", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), "new-node-")));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const project = async () =>
    parseProject(await readFile(join(dir, "conductor.yaml"), "utf8"), join(dir, "conductor.yaml"));

  it("adds a TypeScript node with its test under nodes:, keeping the file's comments and layout", async () => {
    await writeScaffold(dir, projectScaffold({ dir }));
    const before = await readFile(join(dir, "conductor.yaml"), "utf8");
    const result = await newNode({ from: join(dir, "flows"), type: "ts.shout-it", lang: "ts" });
    expect(result.created).toEqual(["nodes/shout-it.ts", "nodes/shout-it.test.ts"]);
    expect(result.registered).toEqual(["nodes += ./nodes/shout-it.ts"]);
    expect(result.test).toBe("node --test nodes/shout-it.test.ts");
    const after = await readFile(join(dir, "conductor.yaml"), "utf8");
    expect(after).toBe(
      before.replace("nodes: [./nodes/greet.ts]", "nodes: [./nodes/greet.ts, ./nodes/shout-it.ts]"),
    );
    expect(await readFile(join(dir, "nodes/shout-it.ts"), "utf8")).toContain(
      'export const shoutIt = defineNode({\n  type: "ts.shout-it",',
    );
    expect(await readFile(join(dir, "nodes/shout-it.test.ts"), "utf8")).toContain(
      'import { shoutIt } from "./shout-it.ts";',
    );
  });

  it("adds a Python node to the Python runtime's modules, and its test beside the others", async () => {
    await writeScaffold(dir, projectScaffold({ dir }));
    const result = await newNode({ from: dir, type: "py.top-words", lang: "python" });
    expect(result.created).toEqual(["python/nodes/top_words.py", "python/tests/test_top_words.py"]);
    expect(result.kept).toEqual(["python/nodes/__init__.py", "python/pytest.ini"]);
    expect((await project()).runtimes.python).toMatchObject({
      modules: ["nodes.word_count", "nodes.top_words"],
    });
    expect(result.test).toBe(".conductor/venv-python/bin/python -m pytest -q python/tests/test_top_words.py");
  });

  it("gives a language its first runtime, laid out as conductor init lays it out", async () => {
    await writeFile(join(dir, "conductor.yaml"), "# mine\nconductor: project/v1\n");
    await newNode({ from: dir, type: "py.top-words", lang: "python" });
    const rust = await newNode({ from: dir, type: "rs.reverse", lang: "rust" });
    expect((await project()).runtimes).toEqual({
      python: { kind: "python", path: ["python"], modules: ["nodes.top_words"], requirements: ["pytest>=8"] },
      rust: { kind: "rust", package: "rust", binary: expect.stringMatching(/^new-node-.*-nodes$/) },
    });
    expect(await readFile(join(dir, "conductor.yaml"), "utf8")).toMatch(/^# mine\n/);
    expect(rust.created).toEqual([
      "rust/Cargo.toml",
      "rust/src/main.rs",
      "rust/src/nodes/mod.rs",
      "rust/src/nodes/reverse.rs",
      ".gitignore",
    ]);
    expect(existsSync(join(dir, "python/nodes/__init__.py"))).toBe(true);
  });

  it("registers a Rust node in the crate's registry", async () => {
    await writeScaffold(dir, projectScaffold({ dir, rust: true }));
    const result = await newNode({ from: dir, type: "rs.reverse", lang: "rust" });
    expect(result.created).toEqual(["rust/src/nodes/reverse.rs"]);
    expect(result.updated).toEqual(["rust/src/nodes/mod.rs"]);
    expect(result.build).toBe("(cd rust && cargo build --release)");
    const modRs = await readFile(join(dir, "rust/src/nodes/mod.rs"), "utf8");
    expect(modRs).toContain("mod reverse;\nmod shout;\n");
    expect(modRs).toContain("Registry::new().node(shout::Shout).node(reverse::Reverse)");
  });

  it("writes nothing when the node's file exists, and nothing when the crate's registry is not its own", async () => {
    await writeScaffold(dir, projectScaffold({ dir, rust: true }));
    const before = await readFile(join(dir, "conductor.yaml"), "utf8");
    await expect(newNode({ from: dir, type: "py.word-count", lang: "python" })).rejects.toMatchObject({
      code: "files_exist",
      message: expect.stringContaining(
        "python/nodes/word_count.py, python/tests/test_word_count.py already exist",
      ),
    });
    expect(await readFile(join(dir, "conductor.yaml"), "utf8")).toBe(before);

    await writeFile(join(dir, "rust/src/nodes/mod.rs"), "pub fn registry() {}\n");
    await expect(newNode({ from: dir, type: "rs.reverse", lang: "rust" })).rejects.toThrow(
      'runtime "rust": rust/src/nodes/mod.rs has no `mod …;` line or no `Registry::new()`, so the node cannot be registered by itself; add `mod reverse;` and `.node(reverse::Reverse)` where the crate builds its Registry',
    );
    expect(existsSync(join(dir, "rust/src/nodes/reverse.rs"))).toBe(false);
  });

  it("asks which runtime when several could take the node, and checks the one named", async () => {
    await writeFile(
      join(dir, "conductor.yaml"),
      "conductor: project/v1\nruntimes:\n  a: { kind: python, modules: [x] }\n  b: { kind: python, modules: [y] }\n  s: { kind: node, modules: [./z.ts] }\n",
    );
    await expect(newNode({ from: dir, type: "py.top", lang: "python" })).rejects.toThrow(
      'conductor.yaml has 2 runtimes of kind python ("a", "b"); pick one with --runtime',
    );
    await expect(newNode({ from: dir, type: "py.top", lang: "python", runtime: "c" })).rejects.toThrow(
      'conductor.yaml has no runtime "c"; its runtimes are "a", "b", "s"',
    );
    await expect(newNode({ from: dir, type: "ts.top", lang: "ts", runtime: "a" })).rejects.toThrow(
      'runtime "a" is of kind python, and a --lang ts node needs a runtime of kind node',
    );
    await newNode({ from: dir, type: "py.top", lang: "python", runtime: "b" });
    await newNode({ from: dir, type: "ts.top", lang: "ts", runtime: "s" });
    const runtimes = (await project()).runtimes;
    expect(runtimes.b).toEqual({ kind: "python", modules: ["y", "nodes.top"], path: ["python"] });
    expect(runtimes.s).toEqual({ kind: "node", modules: ["./z.ts", "./nodes/top.ts"] });
  });

  it("needs a project", async () => {
    await mkdir(join(dir, "empty"));
    await expect(newNode({ from: join(dir, "empty"), type: "ts.top", lang: "ts" })).rejects.toThrow(
      "run `conductor init` to make a project first",
    );
  });
});
