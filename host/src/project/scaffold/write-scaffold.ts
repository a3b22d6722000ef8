import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ConductorError } from "../../errors.js";

/** One file of a scaffold, with what to do when it exists. */
export interface ScaffoldFile {
  /** The path relative to the project directory, with forward slashes. */
  path: string;
  content: string;
  /**
   * `create`: the scaffold's own file; an existing one is a conflict unless forced. `keep`: a file the user may
   * already have (package.json, tsconfig.json, editor settings); an existing one is kept as it is. `lines`: a list
   * of lines (.gitignore); the missing ones are appended to an existing file.
   */
  mode: "create" | "keep" | "lines";
}

/** What {@link writeScaffold} did, file by file (paths relative to the project). */
export interface ScaffoldReport {
  /** The project directory, absolute. */
  dir: string;
  created: string[];
  /** Existing files replaced because of `force`. */
  overwritten: string[];
  /** Existing files that had lines appended. */
  updated: string[];
  /** Existing files left as they were. */
  kept: string[];
}

/**
 * Writes a scaffold into `dir`, all or nothing: when a file of the scaffold's own exists and `force` is not set,
 * nothing is written and a `files_exist` error names every such file, so `conductor init` and `conductor new`
 * never destroy a user's work by surprise.
 */
export async function writeScaffold(
  dir: string,
  files: readonly ScaffoldFile[],
  options: { force?: boolean } = {},
): Promise<ScaffoldReport> {
  const existing = files.filter((file) => file.mode === "create" && existsSync(join(dir, file.path)));
  if (existing.length > 0 && options.force !== true) {
    throw new ConductorError(
      "files_exist",
      `${existing.map((file) => file.path).join(", ")} already exist${existing.length === 1 ? "s" : ""} in ${dir}; nothing was written; pass --force to overwrite ${existing.length === 1 ? "it" : "them"}`,
    );
  }
  const report: ScaffoldReport = { dir, created: [], overwritten: [], updated: [], kept: [] };
  for (const file of files) {
    const target = join(dir, file.path);
    const present = existsSync(target);
    if (present && file.mode === "keep") {
      report.kept.push(file.path);
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    if (present && file.mode === "lines") {
      const text = await readFile(target, "utf8");
      const have = new Set(text.split("\n").map((line) => line.trim()));
      const missing = file.content.split("\n").filter((line) => line.trim() !== "" && !have.has(line.trim()));
      if (missing.length === 0) {
        report.kept.push(file.path);
        continue;
      }
      await writeFile(
        target,
        `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${missing.join("\n")}\n`,
      );
      report.updated.push(file.path);
      continue;
    }
    await writeFile(target, file.content);
    (present ? report.overwritten : report.created).push(file.path);
  }
  return report;
}
