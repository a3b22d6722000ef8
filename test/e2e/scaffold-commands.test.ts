/**
 * `conductor init`, `conductor new node` and `conductor schema` as a user calls them: what they print, in words and
 * in --json, and their exit codes. (What the scaffolded project does when run is test/install's part.)
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CommandResult, runConductor } from "../fixtures/conductor-command.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

function conductor(args: string[], cwd: string): Promise<CommandResult> {
  return runConductor(args, { cwd, env: { ...process.env, NO_COLOR: "1" } });
}

describe("conductor init", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), "init-command-")));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("scaffolds a project in a new directory and prints the commands to run next", async () => {
    const init = await conductor(["init", "my-flows"], dir);
    expect(init).toMatchObject({ code: 0, stderr: "" });
    expect(init.stdout).toContain(
      "✓ created a Conductor project in my-flows:\n  conductor.yaml\n  flows/hello.blueprint.yaml\n",
    );
    expect(init.stdout).toContain(
      "next:\n  cd my-flows\n  npm install @conductor/host @conductor/sdk zod\n  npx conductor run flows/hello.blueprint.yaml -i name=Ada\n",
    );
    expect(init.stdout).not.toContain("cargo");
    // Without a package.json, one that makes the TypeScript files ES modules.
    expect(JSON.parse(await readFile(join(dir, "my-flows", "package.json"), "utf8"))).toMatchObject({
      type: "module",
    });
  });

  it("reports what it wrote as JSON, and refuses to overwrite, exit 2, unless --force", async () => {
    await writeFile(join(dir, "package.json"), JSON.stringify({ name: "x", type: "commonjs" }));
    const first = await conductor(["init", "--rust", "--json"], dir);
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout) as {
      dir: string;
      created: string[];
      kept: string[];
      next: string[];
    };
    expect(report.dir).toBe(dir);
    expect(report.created).toContain("nodes/package.json");
    expect(report.created).toContain("rust/src/nodes/shout.rs");
    expect(report.created).not.toContain("package.json");
    expect(report.next).toContain(
      "(cd rust && cargo test --release)                  # the Rust node's test",
    );

    await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\n");
    const again = await conductor(["init"], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(
      `conductor: conductor.yaml, flows/hello.blueprint.yaml, nodes/greet.ts, nodes/greet.test.ts, python/nodes/word_count.py, python/tests/test_word_count.py already exist in ${dir}; nothing was written; pass --force to overwrite them\n`,
    );
    expect(await readFile(join(dir, "conductor.yaml"), "utf8")).toBe("conductor: project/v1\n");
    const json = await conductor(["init", "--json"], dir);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "files_exist" } });

    const forced = await conductor(["init", "--force", "--json"], dir);
    expect(forced.code).toBe(0);
    expect((JSON.parse(forced.stdout) as { overwritten: string[] }).overwritten).toContain("conductor.yaml");
    expect(await readFile(join(dir, "conductor.yaml"), "utf8")).toContain("modules: [nodes.word_count]");
  });
});

describe("conductor new node", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), "new-command-")));
    await conductor(["init"], dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("adds a node, says where it registered it and how to test it", async () => {
    const added = await conductor(["new", "node", "py.top-words", "--lang", "python"], dir);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    expect(added.stdout).toContain(
      "✓ created node py.top-words:\n  python/nodes/top_words.py\n  python/tests/test_top_words.py\n",
    );
    expect(added.stdout).toContain("registered:\n  runtimes.python.modules += nodes.top_words\n");
    expect(added.stdout).toContain(
      ".conductor/venv-python/bin/python -m pytest -q python/tests/test_top_words.py",
    );
  });

  it("says what is wrong with its arguments, exit 2", async () => {
    expect(await conductor(["new", "node", "py.x"], dir)).toEqual({
      code: 2,
      stdout: "",
      stderr: "conductor new node: --lang must be one of ts, python, rust, found nothing\n",
    });
    expect(await conductor(["new", "node", "Bad Name", "--lang", "ts"], dir)).toMatchObject({
      code: 2,
      stderr:
        'conductor new node: "Bad Name" is not a node type name; expected "<namespace>.<name>" in lowercase letters, digits and dashes, e.g. "py.word-count"\n',
    });
    expect(await conductor(["new", "blueprint", "x"], dir)).toMatchObject({
      code: 2,
      stderr:
        "conductor new: expected `conductor new node <type> --lang ts|python|rust`, found `conductor new blueprint x`\n",
    });
    expect(existsSync(join(dir, "nodes", "x.ts"))).toBe(false);
  });

  it("needs a project, exit 3", async () => {
    const empty = await mkdtemp(join(tmpdir(), "no-project-"));
    try {
      const result = await conductor(["new", "node", "ts.x", "--lang", "ts"], empty);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain(
        "or a directory above it; run `conductor init` to make a project first\n",
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe("conductor schema", () => {
  it("prints the published JSON Schemas of blueprints (the default) and of conductor.yaml", async () => {
    const blueprint = await conductor(["schema"], root);
    expect(blueprint.stdout).toBe(await readFile(join(root, "docs/blueprint.schema.json"), "utf8"));
    const project = await conductor(["schema", "project"], root);
    expect(project.stdout).toBe(await readFile(join(root, "docs/project.schema.json"), "utf8"));
    expect(JSON.parse(project.stdout)).toMatchObject({ title: "Conductor project (conductor.yaml)" });
    expect(await conductor(["schema", "nope"], root)).toEqual({
      code: 2,
      stdout: "",
      stderr: 'conductor schema: expected "blueprint" or "project", found "nope"\n',
    });
  });
});
