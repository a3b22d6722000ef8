import { join, resolve } from "node:path";
import { PROJECT_FILE, type Project } from "./project-config.js";

/** The directory in a project where Conductor keeps its own state: the journal, blobs, the API token, venvs. */
export const STATE_DIR = ".conductor";

/** Who may run `core.shell`: nobody, the project's own blueprints, or inline blueprints sent over the API too. */
export type ShellAccess = "none" | "project" | "any";

/** A project's access rules (conductor.yaml `access`) with their defaults applied and directories made absolute. */
export interface ResolvedAccess {
  readonly projectDir: string;
  /** Absolute directories the core file nodes may use; by default the project directory alone. */
  readonly fileDirectories: readonly string[];
  /** Absolute paths the core file nodes may never use, even inside those directories: Conductor's own files. */
  readonly protectedPaths: readonly string[];
  readonly shell: ShellAccess;
  /** Ids of the blueprints whose webhook needs no token. */
  readonly publicWebhooks: ReadonlySet<string>;
}

/**
 * The access rules of a project. Use it wherever a rule is enforced (the file nodes, core.shell, the webhooks, the
 * API's inline blueprints), so that they all read the same defaults: files under the project directory only,
 * core.shell for the project's own blueprints, no public webhook.
 */
export function projectAccess(project: Project): ResolvedAccess {
  const dir = resolve(project.dir);
  const access = project.access ?? {};
  return {
    projectDir: dir,
    fileDirectories: (access.files ?? ["."]).map((entry) => resolve(dir, entry)),
    // Because a node that could write the project file or the state directory could grant itself more, read the
    // API token, or read every value ever recorded in the journal.
    protectedPaths: [join(dir, STATE_DIR), join(dir, PROJECT_FILE)],
    shell: access.shell ?? "project",
    publicWebhooks: new Set(access.publicWebhooks ?? []),
  };
}
