import { existsSync, readFileSync, realpathSync } from "node:fs";
import { basename, join, relative, sep } from "node:path";
import { nodeNames } from "./node-names.js";
import { pythonNode, rustCrate, typescriptNode } from "./node-templates.js";
import { shippedFile } from "./shipped-files.js";
import type { ScaffoldFile } from "./write-scaffold.js";

/** Options of {@link projectScaffold}. */
export interface ProjectScaffoldOptions {
  /** The project directory (it may not exist yet). */
  dir: string;
  /** Add a Rust node crate and its runtime. */
  rust?: boolean;
}

/** The node types of the scaffolded project, one per language. */
export const SCAFFOLD_TYPES = { typescript: "ts.greet", python: "py.word-count", rust: "rs.shout" } as const;

/** The blueprint `conductor init` writes, which its next commands run. */
export const SCAFFOLD_BLUEPRINT = "flows/hello.blueprint.yaml";

/**
 * The files of a new project (`conductor init`): conductor.yaml, a blueprint chaining a TypeScript node (run in
 * the host) into a Python node (and a Rust node with `rust`), each node with its test, the editors' schema
 * hook-ups, .gitignore, and what makes TypeScript files ES modules whatever the directory's package.json says.
 */
export function projectScaffold(options: ProjectScaffoldOptions): ScaffoldFile[] {
  const dir = existsSync(options.dir) ? realpathSync(options.dir) : options.dir;
  const ts = nodeNames(SCAFFOLD_TYPES.typescript);
  const py = nodeNames(SCAFFOLD_TYPES.python);
  const rs = nodeNames(SCAFFOLD_TYPES.rust);
  const crateName = `${packageBaseName(dir)}-nodes`;
  const schema = (kind: "blueprint-schema" | "project-schema", from: string) =>
    pathTo(shippedFile(kind), dir, from);
  const typescript = typescriptNode(ts);
  const python = pythonNode(py);

  const files: ScaffoldFile[] = [
    {
      path: "conductor.yaml",
      mode: "create",
      content: `# yaml-language-server: $schema=${schema("project-schema", ".")}
# The Conductor project: where the blueprints are and which runtimes run the nodes. Every field is described in
# Conductor's docs/project.md.
conductor: project/v1
blueprints: [flows]
# TypeScript nodes run inside the host (the built-in core.* nodes are always there).
nodes: [./nodes/${ts.kebab}.ts]
runtimes:
  # Python nodes: on first use the host creates .conductor/venv-python and installs conductor-runtime and the
  # requirements into it (\`conductor setup\` does it ahead of time).
  python:
    kind: python
    path: [python]
    modules: [nodes.${py.snake}]
    requirements: ["pytest>=8"]
${
  options.rust === true
    ? `  # Rust nodes: the crate in rust/, built with cargo build --release when its binary is missing.
  rust:
    kind: rust
    package: rust
    binary: ${crateName}
`
    : ""
}`,
    },
    {
      path: SCAFFOLD_BLUEPRINT,
      mode: "create",
      content: `# yaml-language-server: $schema=${schema("blueprint-schema", "flows")}
conductor: blueprint/v1
title: Hello
description: Greets someone in TypeScript, then counts the words of the greeting in Python${options.rust === true ? " and shouts it in Rust" : ""}.
inputs:
  name: { schema: { type: string }, default: world, description: Who to greet. }
outputs:
  greeting: greet.text
  words: count.words
${options.rust === true ? "  shout: shout.text\n" : ""}nodes:
  greet:
    type: ${ts.type}
    inputs: { text: inputs.name }
  count:
    type: ${py.type}
    inputs: { text: greet.text }
${
  options.rust === true
    ? `  shout:
    type: ${rs.type}
    inputs: { text: greet.text }
`
    : ""
}`,
    },
    { path: `nodes/${ts.kebab}.ts`, mode: "create", content: typescript.source },
    { path: `nodes/${ts.kebab}.test.ts`, mode: "create", content: typescript.test },
    ...moduleScope(dir),
    ...pythonPackage(),
    { path: `python/nodes/${py.snake}.py`, mode: "create", content: python.source },
    { path: `python/tests/test_${py.snake}.py`, mode: "create", content: python.test },
    {
      path: "tsconfig.json",
      mode: "keep",
      content: `${JSON.stringify(
        {
          compilerOptions: {
            target: "es2023",
            module: "nodenext",
            moduleResolution: "nodenext",
            strict: true,
            noEmit: true,
            allowImportingTsExtensions: true,
            erasableSyntaxOnly: true,
            verbatimModuleSyntax: true,
            skipLibCheck: true,
          },
          include: ["nodes"],
        },
        null,
        2,
      )}\n`,
    },
    {
      path: ".vscode/settings.json",
      mode: "keep",
      content: `${JSON.stringify(
        {
          "yaml.schemas": {
            [schema("project-schema", ".")]: "conductor.yaml",
            [schema("blueprint-schema", ".")]: ["*.blueprint.yaml", "flows/**/*.yaml"],
          },
        },
        null,
        2,
      )}\n`,
    },
    {
      path: ".gitignore",
      mode: "lines",
      content: ["node_modules/", ".conductor/", "__pycache__/", ".pytest_cache/", "rust/target/"].join("\n"),
    },
  ];
  if (options.rust === true) {
    const crate = rustCrate({
      packageName: crateName,
      runtimeCrate: pathTo(shippedFile("rust-crate"), dir, "rust"),
      node: rs,
    });
    for (const [path, content] of Object.entries(crate)) {
      files.push({ path: `rust/${path}`, mode: "create", content });
    }
  }
  return files;
}

/** The files of a Python runtime's `nodes` package that a project has once: the package and pytest's settings. */
export function pythonPackage(root = "python"): ScaffoldFile[] {
  return [
    {
      path: `${root}/nodes/__init__.py`,
      mode: "keep",
      content: '"""The Python nodes of this project: one module per node, listed in conductor.yaml."""\n',
    },
    {
      path: `${root}/pytest.ini`,
      mode: "keep",
      content:
        "[pytest]\n# The tests import the nodes as the runtime does: nodes.<module>.\npythonpath = .\ntestpaths = tests\n",
    },
  ];
}

/**
 * What makes the TypeScript files of nodes/ ES modules whatever the project's package.json says: a package.json
 * with `"type": "module"` in the project when it has none, else one in nodes/ when the project's says otherwise
 * (`npm init -y` writes `"type": "commonjs"`). Because Node, `node --test` and TypeScript all read the nearest
 * package.json, this makes the node and its test load and type-check everywhere, not only in the host.
 */
export function moduleScope(dir: string): ScaffoldFile[] {
  const manifest = join(dir, "package.json");
  if (!existsSync(manifest)) {
    return [
      {
        path: "package.json",
        mode: "keep",
        content: `${JSON.stringify({ name: packageBaseName(dir), private: true, type: "module" }, null, 2)}\n`,
      },
    ];
  }
  let type: unknown;
  try {
    type = (JSON.parse(readFileSync(manifest, "utf8")) as { type?: unknown }).type;
  } catch {
    type = undefined;
  }
  if (type === "module") return [];
  return [
    {
      path: "nodes/package.json",
      mode: "keep",
      content: `${JSON.stringify({ private: true, type: "module", description: "Makes the node modules here ES modules, whatever the project's package.json says." }, null, 2)}\n`,
    },
  ];
}

/** A name for the project's packages from its directory: lowercase letters, digits and dashes. */
export function packageBaseName(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+|-+$/g, "");
  return name === "" ? "conductor" : name;
}

/**
 * How a file of the project at `from` (relative to the project) names `target`: relative, with forward slashes,
 * when `target` is inside the project (node_modules/@conductor/host/…), so the project can move; absolute when it
 * is not (a host installed elsewhere, or a checkout of the Conductor repository).
 */
export function pathTo(target: string, dir: string, from: string): string {
  if (!target.startsWith(`${dir}${sep}`)) return target;
  return relative(join(dir, from), target).split(sep).join("/");
}
