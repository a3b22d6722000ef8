import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { type LoadedBlueprint, parseBlueprint } from "../blueprint/load-blueprint.js";
import { ConductorError } from "../errors.js";
import type { Project } from "./project-config.js";

/** A blueprint of the project, as listed. */
export interface BlueprintEntry {
  id: string;
  /** The file, relative to the project directory. */
  path: string;
  title: string;
  description: string;
}

const EXTENSIONS = [".yaml", ".yml", ".json"];

/**
 * The blueprints of a project: every YAML or JSON file under the project's blueprint paths that declares
 * `conductor: blueprint/v1`. Files that do not parse are listed with the problem in their description, so one bad
 * file does not hide the others.
 */
export async function listBlueprints(project: Project): Promise<BlueprintEntry[]> {
  const entries: BlueprintEntry[] = [];
  const seen = new Map<string, string>();
  // Shared by the roots, so a directory listed twice, or reached again through a link, is read once.
  const visited = new Set<string>();
  for (const root of project.blueprints) {
    for (const file of await findFiles(resolve(project.dir, root), visited, project.dir)) {
      const text = await readFile(file, "utf8").catch(() => "");
      if (
        !/^\s*conductor:\s*["']?blueprint\/v1/m.test(text) &&
        !/"conductor"\s*:\s*"blueprint\/v1"/.test(text)
      )
        continue;
      const path = relative(project.dir, file);
      let entry: BlueprintEntry;
      try {
        const loaded = parseBlueprint(text, file);
        entry = {
          id: loaded.id,
          path,
          title: loaded.document.title ?? loaded.id,
          description: loaded.document.description ?? "",
        };
      } catch (error) {
        const id = path.replace(/\.(blueprint\.)?(ya?ml|json)$/, "").replaceAll("/", ".");
        entry = {
          id,
          path,
          title: id,
          description: `cannot be loaded: ${(error as Error).message.split("\n")[0]}`,
        };
      }
      const previous = seen.get(entry.id);
      if (previous !== undefined) {
        entry = {
          ...entry,
          description: `id "${entry.id}" is also used by ${previous}; give one of them another id`,
        };
      } else seen.set(entry.id, path);
      entries.push(entry);
    }
  }
  return entries.sort((a, b) => a.id.localeCompare(b.id));
}

/** Loads the project's blueprint with this id. */
export async function loadProjectBlueprint(project: Project, id: string): Promise<LoadedBlueprint> {
  const entry = (await listBlueprints(project)).find((candidate) => candidate.id === id);
  if (entry === undefined) {
    throw new ConductorError("blueprint_unreadable", `the project has no blueprint "${id}"`);
  }
  const file = resolve(project.dir, entry.path);
  return parseBlueprint(await readFile(file, "utf8"), file);
}

/**
 * The blueprint files under `path`, following links. Each directory is read once, by its real path: a link back to a
 * directory being read (a loop) or to one read already is skipped with a warning, because following it would list
 * the same files again, without end for a loop. A directory that cannot be read is skipped with a warning too, so
 * one bad folder does not hide the project's other blueprints.
 */
async function findFiles(path: string, visited: Set<string>, projectDir: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return [];
  if (info.isFile()) return EXTENSIONS.some((extension) => path.endsWith(extension)) ? [path] : [];
  if (!info.isDirectory()) return [];
  const real = await realpath(path).catch(() => path);
  const shown = relative(projectDir, path) || ".";
  if (visited.has(real)) {
    if (real !== path)
      warnOnce(`blueprint folder ${shown} leads to ${real}, which is listed already; skipped it`);
    return [];
  }
  visited.add(real);
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(path, { withFileTypes: true });
  } catch (error) {
    warnOnce(`cannot list blueprint folder ${shown}: ${(error as Error).message}; skipped it`);
    return [];
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith(".") || entry.name === "node_modules" || entry.name === "dist") continue;
    files.push(...(await findFiles(join(path, entry.name), visited, projectDir)));
  }
  return files;
}

const warned = new Set<string>();

/** Warns once per process: the catalog is listed again and again by a server. */
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.emitWarning(message);
}
