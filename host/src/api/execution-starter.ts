import { Code, ConnectError } from "@connectrpc/connect";
import { type LoadedBlueprint, parseBlueprintText } from "../blueprint/load-blueprint.js";
import type { Conductor, PreparedBlueprint } from "../conductor.js";
import { ConductorError } from "../errors.js";
import { projectAccess, type ShellAccess } from "../project/project-access.js";
import { authorize } from "./auth.js";
import { type BlueprintLocator, createBlueprintLocator } from "./blueprint-locator.js";
import type { Identity } from "./identity.js";

/** Which blueprint a request names: a project blueprint by id, or a document given inline. */
export type BlueprintChoice =
  | { case: "blueprintId"; value: string }
  | { case: "document"; value: string }
  | { case: undefined; value?: undefined };

/** What the API and the webhooks share: finding and preparing the blueprint a request names. */
export interface ExecutionStarter {
  /**
   * Prepares the chosen blueprint for `caller`: validated and bound to runtimes, ready to start. A blueprint sent
   * inline needs the `run-inline` permission and may use core.shell only where the project's `access.shell` is
   * "any" (PERMISSION_DENIED otherwise), because its sender chooses every node's config, the command included.
   */
  prepare(choice: BlueprintChoice, caller: Identity): Promise<PreparedBlueprint>;
  readonly locator: BlueprintLocator;
}

/**
 * How long a prepared project blueprint is reused before its file is looked at again. The conductor re-validates a
 * file whose modification time changed, but asking costs a `stat` per request (a fifth of a warm request's time
 * in the host), so an edited blueprint takes effect within this time instead of at once.
 */
const FRESH_MS = 500;

/** Creates the {@link ExecutionStarter} of a conductor. */
export function createExecutionStarter(conductor: Conductor): ExecutionStarter {
  const locator = createBlueprintLocator(conductor);
  const fresh = new Map<string, { prepared: PreparedBlueprint; checkedAt: number }>();

  const prepareById = async (id: string, retry: boolean): Promise<PreparedBlueprint> => {
    const cached = fresh.get(id);
    if (cached !== undefined && performance.now() - cached.checkedAt < FRESH_MS) return cached.prepared;
    const path = await locator.pathOf(id);
    let prepared: PreparedBlueprint;
    try {
      prepared = await conductor.prepare(path);
    } catch (error) {
      fresh.delete(id);
      // The file may be gone or renamed since the id → file map was read.
      if (retry && error instanceof ConductorError && error.code === "blueprint_unreadable") {
        locator.forget();
        return prepareById(id, false);
      }
      throw error;
    }
    if (prepared.graph.id !== id) {
      // The file now declares another id.
      fresh.delete(id);
      locator.forget();
      if (retry) return prepareById(id, false);
      throw new ConnectError(`the project has no blueprint "${id}"`, Code.NotFound);
    }
    fresh.set(id, { prepared, checkedAt: performance.now() });
    return prepared;
  };

  return {
    locator,
    async prepare(choice, caller) {
      switch (choice.case) {
        case "blueprintId":
          return prepareById(choice.value, true);
        case "document": {
          const problem = authorize(caller, "run-inline", "run a blueprint sent inline");
          if (problem !== undefined) throw new ConnectError(problem.message, Code.PermissionDenied);
          const loaded = await parseBlueprintText(choice.value);
          assertInlineShell(loaded, projectAccess(conductor.project).shell);
          return conductor.prepare(loaded);
        }
        default:
          throw new ConnectError(
            "no blueprint given: set blueprint_id (a blueprint of the project) or document (JSON or YAML text)",
            Code.InvalidArgument,
          );
      }
    },
  };
}

/** Refuses a blueprint sent inline whose nodes run core.shell, unless the project allows it (`access.shell: any`). */
function assertInlineShell(loaded: LoadedBlueprint, shell: ShellAccess): void {
  if (shell === "any") return;
  const nodes = Object.entries(loaded.document.nodes)
    .filter(([, node]) => node.type === "core.shell")
    .map(([id]) => `nodes.${id}`);
  if (nodes.length === 0) return;
  throw new ConnectError(
    `blueprint "${loaded.id}" was sent inline and runs core.shell (${nodes.join(", ")}), which this project allows ${shell === "none" ? "no blueprint" : "only its own blueprints"} (access.shell is "${shell}" in conductor.yaml); add the blueprint to the project${shell === "none" ? ", and ask its owner to allow core.shell" : ', or ask its owner to set access.shell to "any"'}`,
    Code.PermissionDenied,
  );
}
