import { existsSync, realpathSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { ConductorError } from "../../errors.js";
import { findProject } from "../project-config.js";
import { nodeNames } from "./node-names.js";
import { pythonNode, registerRustNode, rustCrate, rustNode, typescriptNode } from "./node-templates.js";
import { editProject } from "./project-edit.js";
import { moduleScope, packageBaseName, pathTo, pythonPackage } from "./project-scaffold.js";
import { shippedFile } from "./shipped-files.js";
import { type ScaffoldFile, type ScaffoldReport, writeScaffold } from "./write-scaffold.js";

/** The languages `conductor new node` writes nodes in. */
export const NODE_LANGUAGES = ["ts", "python", "rust"] as const;
/** One of {@link NODE_LANGUAGES}: what `--lang` takes. */
export type NodeLanguage = (typeof NODE_LANGUAGES)[number];

/** Options of {@link newNode}. */
export interface NewNodeOptions {
  /** Where to look for conductor.yaml (it or a directory above). */
  from: string;
  /** The node type, e.g. "py.top-words". */
  type: string;
  lang: NodeLanguage;
  /** The runtime of conductor.yaml to add the node to; default: the only one of its language, or a new one. */
  runtime?: string;
  force?: boolean;
}

/** What {@link newNode} did. */
export interface NewNodeResult extends ScaffoldReport {
  /** What was added to conductor.yaml, in words, e.g. `runtimes.python.modules += nodes.top_words`. */
  registered: string[];
  /** The command that runs the node's test, from the project directory. */
  test: string;
  /**
   * For a node added to a Rust crate that may be built already: the command that rebuilds it, because the host
   * builds a Rust runtime only when its binary is missing.
   */
  build?: string;
}

/**
 * Adds a node with its test to an existing project (`conductor new node <type> --lang ts|python|rust`) and
 * registers it in conductor.yaml: a TypeScript module under `nodes:` (or a `kind: node` runtime's `modules`), a
 * Python module in the `nodes` package of a Python runtime, a Rust module in the crate of a Rust runtime. A
 * language without a runtime yet gets one, laid out as `conductor init` lays it out. All or nothing: an existing
 * file (without `force`) or a runtime that cannot take the node fails before anything is written.
 */
export async function newNode(options: NewNodeOptions): Promise<NewNodeResult> {
  const project = await findProject(options.from);
  if (project.file === undefined) {
    throw new ConductorError(
      "project_invalid",
      `no conductor.yaml in ${project.dir} or a directory above it; run \`conductor init\` to make a project first`,
    );
  }
  const dir = realpathSync(project.dir);
  const names = nodeNames(options.type);
  const edit = await editProject(project.file);
  const runtimes = edit.runtimes();
  const files: ScaffoldFile[] = [];
  const registered: string[] = [];
  const register: (() => void)[] = [];
  const after: ((report: ScaffoldReport) => Promise<void>)[] = [];
  let test: string;
  let build: string | undefined;

  const pick = (kind: string): string | undefined => {
    if (options.runtime !== undefined) {
      const spec = runtimes[options.runtime];
      if (spec === undefined) {
        throw new ConductorError(
          "project_invalid",
          `conductor.yaml has no runtime "${options.runtime}"; its runtimes are ${describeNames(Object.keys(runtimes))}`,
        );
      }
      if (spec.kind !== kind) {
        throw new ConductorError(
          "project_invalid",
          `runtime "${options.runtime}" is of kind ${String(spec.kind)}, and a --lang ${options.lang} node needs a runtime of kind ${kind}`,
        );
      }
      return options.runtime;
    }
    const candidates = Object.keys(runtimes).filter((name) => runtimes[name]!.kind === kind);
    if (candidates.length > 1) {
      throw new ConductorError(
        "project_invalid",
        `conductor.yaml has ${candidates.length} runtimes of kind ${kind} (${describeNames(candidates)}); pick one with --runtime`,
      );
    }
    return candidates[0];
  };
  const freeName = (name: string): string => {
    if (runtimes[name] !== undefined) {
      throw new ConductorError(
        "project_invalid",
        `conductor.yaml already has a runtime "${name}" of kind ${String(runtimes[name]!.kind)}; name the runtime to add the node to with --runtime`,
      );
    }
    return name;
  };

  switch (options.lang) {
    case "ts": {
      const node = typescriptNode(names);
      const module = `./nodes/${names.kebab}.ts`;
      files.push(
        { path: `nodes/${names.kebab}.ts`, mode: "create", content: node.source },
        { path: `nodes/${names.kebab}.test.ts`, mode: "create", content: node.test },
        ...moduleScope(dir),
      );
      const runtime = options.runtime === undefined ? undefined : pick("node");
      const path = runtime === undefined ? ["nodes"] : ["runtimes", runtime, "modules"];
      register.push(() => edit.append(path, module));
      registered.push(`${path.join(".")} += ${module}`);
      test = `node --test nodes/${names.kebab}.test.ts`;
      break;
    }
    case "python": {
      const node = pythonNode(names);
      const existing = pick("python");
      const runtime = existing ?? freeName("python");
      const paths = existing === undefined ? undefined : (runtimes[existing]!.path as string[] | undefined);
      const root = paths?.[0] ?? "python";
      files.push(
        ...pythonPackage(root),
        { path: `${root}/nodes/${names.snake}.py`, mode: "create", content: node.source },
        { path: `${root}/tests/test_${names.snake}.py`, mode: "create", content: node.test },
      );
      const module = `nodes.${names.snake}`;
      if (existing === undefined) {
        register.push(() =>
          edit.addRuntime(
            runtime,
            { kind: "python", path: [root], modules: [module], requirements: ["pytest>=8"] },
            "Python nodes: the host creates .conductor/venv-python and installs conductor-runtime and the requirements.",
          ),
        );
        registered.push(`runtimes.${runtime} (kind python, modules [${module}])`);
      } else {
        if (paths === undefined) {
          register.push(() => edit.append(["runtimes", runtime, "path"], root));
          registered.push(`runtimes.${runtime}.path += ${root}`);
        }
        register.push(() => edit.append(["runtimes", runtime, "modules"], module));
        registered.push(`runtimes.${runtime}.modules += ${module}`);
      }
      test = `.conductor/venv-${runtime}/bin/python -m pytest -q ${root}/tests/test_${names.snake}.py`;
      const spec = existing === undefined ? undefined : runtimes[existing]!;
      if (typeof spec?.venv === "string") {
        test = `${spec.venv}/bin/python -m pytest -q ${root}/tests/test_${names.snake}.py`;
      }
      break;
    }
    case "rust": {
      const existing = pick("rust");
      if (existing === undefined) {
        const runtime = freeName("rust");
        const packageName = `${packageBaseName(dir)}-nodes`;
        const crate = rustCrate({
          packageName,
          runtimeCrate: pathTo(shippedFile("rust-crate"), dir, "rust"),
          node: names,
        });
        for (const [path, content] of Object.entries(crate)) {
          files.push({ path: `rust/${path}`, mode: "create", content });
        }
        files.push({ path: ".gitignore", mode: "lines", content: "rust/target/" });
        register.push(() =>
          edit.addRuntime(
            runtime,
            { kind: "rust", package: "rust", binary: packageName },
            "Rust nodes: the crate in rust/, built with cargo build --release when its binary is missing.",
          ),
        );
        registered.push(`runtimes.${runtime} (kind rust, package rust, binary ${packageName})`);
        test = "(cd rust && cargo test --release)";
        break;
      }
      const crateDir = runtimes[existing]!.package;
      if (typeof crateDir !== "string") {
        throw new ConductorError(
          "project_invalid",
          `runtime "${existing}" names no cargo package (runtimes.${existing}.package), so there is no crate to add a node to`,
        );
      }
      const modRs = join(dir, crateDir, "src", "nodes", "mod.rs");
      const current = existsSync(modRs) ? await readFile(modRs, "utf8") : undefined;
      const updated = current === undefined ? undefined : registerRustNode(current, names);
      if (updated === undefined) {
        throw new ConductorError(
          "project_invalid",
          `runtime "${existing}": ${relative(dir, modRs)} ${current === undefined ? "does not exist" : "has no `mod …;` line or no `Registry::new()`"}, so the node cannot be registered by itself; add \`mod ${names.snake};\` and \`.node(${names.snake}::${names.pascal})\` where the crate builds its Registry`,
        );
      }
      files.push({
        path: `${crateDir.replace(/^\.\//, "")}/src/nodes/${names.snake}.rs`,
        mode: "create",
        content: rustNode(names),
      });
      after.push(async (report) => {
        await writeFile(modRs, updated);
        report.updated.push(relative(dir, modRs));
      });
      registered.push(`${relative(dir, modRs)}: mod ${names.snake}; .node(${names.snake}::${names.pascal})`);
      test = `(cd ${crateDir} && cargo test --release)`;
      build = `(cd ${crateDir} && cargo build --release)`;
      break;
    }
  }

  const report = await writeScaffold(dir, files, { force: options.force === true });
  for (const change of register) change();
  if (register.length > 0) {
    await edit.save();
    report.updated.push(relative(dir, project.file));
  }
  for (const write of after) await write(report);
  return { ...report, registered, test, ...(build === undefined ? {} : { build }) };
}

function describeNames(names: readonly string[]): string {
  return names.length === 0 ? "none" : names.map((name) => `"${name}"`).join(", ");
}
