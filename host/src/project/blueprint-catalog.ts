import { readdir, readFile, stat } from "node:fs/promises";
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
  for (const root of project.blueprints) {
    for (const file of await findFiles(resolve(project.dir, root))) {
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

async function findFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return [];
  if (info.isFile()) return EXTENSIONS.some((extension) => path.endsWith(extension)) ? [path] : [];
  const files: string[] = [];
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || entry.name === "node_modules" || entry.name === "dist") continue;
    files.push(...(await findFiles(join(path, entry.name))));
  }
  return files;
}
