import { realpath } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { NodeFailure } from "@conductor/sdk";

/** Options of {@link createFileAccess}. */
export interface FileAccessOptions {
  /** Absolute directories nodes may use, with everything under them. */
  directories: readonly string[];
  /** Absolute paths nodes may never use, even inside those directories (a file, or a directory and its content). */
  protectedPaths?: readonly string[];
}

/** What a file node may open. */
export interface FileAccess {
  /**
   * Resolves a path a node was given (relative paths against the working directory), follows its symbolic links
   * and `..`, and gives the path to open when it lies inside the allowed directories; otherwise throws a
   * {@link NodeFailure} of type `file.not-allowed`. For `write`, the last component is not followed: a writer
   * replaces a link at the path rather than writing through it.
   */
  check(path: string, action: "read" | "write"): Promise<string>;
}

/**
 * Confines the core file nodes to a project's directories. Use one per conductor, built from the project's
 * `access.files`, so that a blueprint (or an input of a webhook) cannot name a file elsewhere on the machine.
 *
 * Because links are resolved before the check, a link inside an allowed directory that leads outside is refused,
 * and so is a path that climbs out with `..`. A path that does not exist yet is judged by its nearest existing
 * parent. What is left: a process that can change the allowed directories while a node runs could swap a checked
 * directory for a link between the check and the open; the check guards against what blueprints and inputs name,
 * not against other programs on the machine.
 */
export function createFileAccess(options: FileAccessOptions): FileAccess {
  return {
    async check(path, action) {
      const given = resolve(path);
      const real =
        action === "read" ? await realPathOf(given) : join(await realPathOf(dirname(given)), basename(given));
      const shown = real === given ? `"${given}"` : `"${given}" (which leads to "${real}")`;
      const verb = action === "read" ? "read" : "write";
      for (const protectedPath of options.protectedPaths ?? []) {
        if (isInside(real, await realPathOf(protectedPath))) {
          throw new NodeFailure(
            `cannot ${verb} ${shown}: Conductor's own files (.conductor/ and conductor.yaml) are never open to nodes`,
            { type: "file.not-allowed", details: { path: given, resolved: real } },
          );
        }
      }
      const directories = await Promise.all(options.directories.map(realPathOf));
      if (!directories.some((directory) => isInside(real, directory))) {
        throw new NodeFailure(
          `cannot ${verb} ${shown}: it is outside the directories this project lets nodes use (${options.directories.join(", ")}); to allow it, list its directory under access.files in conductor.yaml`,
          {
            type: "file.not-allowed",
            details: { path: given, resolved: real, allowed: options.directories },
          },
        );
      }
      return real;
    },
  };
}

/** The real path of `path`; for a path that does not exist, its nearest existing parent's real path and the rest. */
async function realPathOf(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const parent = dirname(path);
    if ((code !== "ENOENT" && code !== "ENOTDIR") || parent === path) return path;
    return join(await realPathOf(parent), basename(path));
  }
}

function isInside(path: string, directory: string): boolean {
  return path === directory || path.startsWith(directory.endsWith(sep) ? directory : directory + sep);
}
