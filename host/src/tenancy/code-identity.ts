import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { VERSION } from "../cli/help.js";
import type { Project, RuntimeSpec } from "../project/project-config.js";

/** Directories never hashed: dependencies, build output, caches, version control. */
const SKIPPED = new Set([
  "node_modules",
  "target",
  ".git",
  ".conductor",
  "__pycache__",
  ".venv",
  "venv",
  "dist",
  ".pytest_cache",
]);

/** Most files hashed for one runtime; past it the identity says so (a directory that large is not node code). */
const MAX_FILES = 2_000;

/**
 * The identity of the code that runs a blueprint's nodes: for each runtime its nodes use, a SHA-256 of what decides
 * what the nodes do: the runtime's entry in `conductor.yaml` and the files it names (node modules, Python module
 * directories, the Rust package's manifest, lock file and sources, a command's program, WebAssembly modules and their
 * manifests). The built-in runtime is the host's version plus the project's `nodes:` modules. The code itself is not
 * kept: a deployment records this identity so that a change of code shows in `conductor deployments diff`.
 */
export async function codeIdentity(
  project: Project,
  runtimes: Iterable<string>,
): Promise<Record<string, string>> {
  const identity: Record<string, string> = {};
  for (const name of [...new Set(runtimes)].sort()) {
    const hash = createHash("sha256");
    const spec = project.runtimes[name];
    if (spec !== undefined) {
      hash.update(`runtime ${name} ${stableJson(spec)}\n`);
      for (const path of sourcesOf(spec, project.dir)) await hashPath(hash, project.dir, path);
    } else if (name === "builtin") {
      hash.update(`conductor ${VERSION}\n`);
      for (const module of project.nodes) {
        if (looksLikePath(module)) await hashPath(hash, project.dir, resolve(project.dir, module));
        else hash.update(`package ${module}\n`);
      }
    } else {
      // The sub-blueprint runtime ("blueprints") and anything else: named only.
      hash.update(`runtime ${name}\n`);
    }
    identity[name] = hash.digest("hex");
  }
  return identity;
}

/** One digest of a whole code identity. */
export function codeDigest(identity: Record<string, string>): string {
  return createHash("sha256").update(stableJson(identity)).digest("hex");
}

function looksLikePath(module: string): boolean {
  return module.startsWith(".") || isAbsolute(module);
}

function sourcesOf(spec: RuntimeSpec, dir: string): string[] {
  switch (spec.kind) {
    case "node":
      return spec.modules.filter(looksLikePath).map((module) => resolve(dir, module));
    case "python":
      return (spec.path ?? ["."]).map((entry) => resolve(dir, entry));
    case "rust":
      return spec.package === undefined
        ? [resolve(dir, spec.binary)]
        : ["Cargo.toml", "Cargo.lock", "src"].map((entry) => resolve(dir, spec.package ?? ".", entry));
    case "command": {
      const program = spec.command[0] ?? "";
      return looksLikePath(program) ? [resolve(dir, program)] : [];
    }
    case "wasm":
      return spec.modules.flatMap((module) => [
        resolve(dir, module),
        resolve(dir, module.replace(/\.wasm$/, ".nodes.json")),
      ]);
  }
}

/** Hashes a file, or every file under a directory in name order, each with its path relative to the project. */
async function hashPath(hash: ReturnType<typeof createHash>, root: string, path: string): Promise<void> {
  let count = 0;
  const visit = async (current: string): Promise<void> => {
    const info = await stat(current).catch(() => undefined);
    const name = relative(root, current);
    if (info === undefined) {
      hash.update(`missing ${name}\n`);
      return;
    }
    if (info.isDirectory()) {
      const entries = (await readdir(current)).sort();
      for (const entry of entries) {
        if (SKIPPED.has(entry) || entry.startsWith(".")) continue;
        if (count >= MAX_FILES) {
          hash.update(`truncated ${name}\n`);
          return;
        }
        await visit(join(current, entry));
      }
      return;
    }
    if (!info.isFile()) return;
    count++;
    hash.update(`file ${name} ${info.size}\n`);
    hash.update(await readFile(current));
  };
  await visit(path);
}

/** JSON with object keys in order, so equal values always give equal text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === "object" && !Array.isArray(item)
      ? Object.fromEntries(
          Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : item,
  );
}
