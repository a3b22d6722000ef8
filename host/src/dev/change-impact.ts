import { basename, extname, isAbsolute, relative, resolve, sep } from "node:path";
import type { Project } from "../project/project-config.js";
import { PROJECT_FILE } from "../project/project-config.js";

/** What a set of changed files touches in a project (see {@link impactOf}). */
export interface ChangeImpact {
  /** Blueprint candidates: YAML and JSON files, absolute paths (the catalog says which are blueprints). */
  blueprints: string[];
  /** Runtimes whose code changed, by name; `builtin` is the in-process runtime of the project's `nodes:`. */
  runtimes: string[];
  /** conductor.yaml itself changed. */
  projectFile: boolean;
}

/** Directories whose changes never matter to a running project: dependencies, build output, Conductor's own. */
export const IGNORED_DIRECTORIES: ReadonlySet<string> = new Set([
  "node_modules",
  ".conductor",
  ".git",
  "target",
  "dist",
  "__pycache__",
  ".venv",
  ".pytest_cache",
  ".ruff_cache",
  ".mypy_cache",
]);

const SCRIPT = new Set([".ts", ".mts", ".cts", ".tsx", ".js", ".mjs", ".cjs", ".jsx"]);
const DATA = new Set([".yaml", ".yml", ".json"]);

/**
 * Which blueprints and runtimes a set of changed files (absolute or relative to the project) affects, for
 * `conductor dev`: a TypeScript or JavaScript file reloads the in-process runtime (when the project has `nodes:`)
 * and every Node sidecar, since either may import it; a Python file the Python runtimes whose `path` holds it (all
 * of them when they set no `path`); a file of a Rust runtime's cargo package (or its binary) that runtime; a
 * command runtime's program that runtime; a wasm runtime's module or its manifest that runtime. Files under dependency and build directories are ignored.
 */
export function impactOf(paths: Iterable<string>, project: Project, inProcessName = "builtin"): ChangeImpact {
  const blueprints = new Set<string>();
  const runtimes = new Set<string>();
  let projectFile = false;
  for (const given of paths) {
    const path = resolve(project.dir, given);
    const inProject = relative(project.dir, path);
    if (inProject.split(sep).some((part) => IGNORED_DIRECTORIES.has(part))) continue;
    if (basename(path) === PROJECT_FILE && resolve(project.dir, PROJECT_FILE) === path) {
      projectFile = true;
      continue;
    }
    const extension = extname(path);
    if (DATA.has(extension)) blueprints.add(path);
    for (const [name, spec] of Object.entries(project.runtimes)) {
      switch (spec.kind) {
        case "node":
          if (SCRIPT.has(extension)) runtimes.add(name);
          break;
        case "python": {
          if (extension !== ".py") break;
          const dirs = spec.path ?? [];
          if (dirs.length === 0 || dirs.some((dir) => within(resolve(project.dir, dir), path)))
            runtimes.add(name);
          break;
        }
        case "rust":
          if (
            spec.package !== undefined
              ? within(resolve(project.dir, spec.package), path)
              : resolve(project.dir, spec.binary) === path
          )
            runtimes.add(name);
          break;
        case "command":
          if (resolve(project.dir, spec.command[0]!) === path) runtimes.add(name);
          break;
        case "wasm":
          // A module or its manifest (`x.wasm` → `x.nodes.json`).
          if (
            spec.modules.some((module) => {
              const file = resolve(project.dir, module);
              return file === path || file.replace(/\.wasm$/, ".nodes.json") === path;
            })
          )
            runtimes.add(name);
          break;
      }
    }
    if (SCRIPT.has(extension) && project.nodes.length > 0) runtimes.add(inProcessName);
  }
  return { blueprints: [...blueprints], runtimes: [...runtimes], projectFile };
}

function within(dir: string, path: string): boolean {
  const inside = relative(dir, path);
  return inside !== "" && !inside.startsWith("..") && !isAbsolute(inside);
}
