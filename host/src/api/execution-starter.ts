import { Code, ConnectError } from "@connectrpc/connect";
import { type LoadedBlueprint, parseBlueprintText } from "../blueprint/load-blueprint.js";
import type { Conductor, PreparedBlueprint } from "../conductor.js";
import { ConductorError } from "../errors.js";
import { projectAccess, type ShellAccess } from "../project/project-access.js";
import type { Deployment } from "../tenancy/deployment-store.js";
import type { Deployments } from "../tenancy/deployments.js";
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
  prepare(choice: BlueprintChoice, caller: Identity, version?: number): Promise<PreparedBlueprint>;
  /**
   * The deployed version a blueprint {@link prepare} gave is, or undefined for a project file or an inline
   * document. With deployments, a blueprint id names the caller's namespace's current version (or `version`),
   * and, in the default namespace only, the project's file when it was never deployed.
   */
  deploymentOf(prepared: PreparedBlueprint): Deployment | undefined;
  /** Records the version an execution started from `prepared` runs (nothing for files and inline documents). */
  recordStart(prepared: PreparedBlueprint, executionId: string): void;
  readonly locator: BlueprintLocator;
}

/**
 * How long a prepared project blueprint is reused before its file is looked at again. The conductor re-validates a
 * file whose modification time changed, but asking costs a `stat` per request (a fifth of a warm request's time
 * in the host), so an edited blueprint takes effect within this time instead of at once.
 */
const FRESH_MS = 500;

/** Creates the {@link ExecutionStarter} of a conductor. */
export function createExecutionStarter(conductor: Conductor, deployments?: Deployments): ExecutionStarter {
  const locator = createBlueprintLocator(conductor);
  const deployed = new WeakMap<PreparedBlueprint, Deployment>();
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
    deploymentOf: (prepared) => deployed.get(prepared),
    recordStart(prepared, executionId) {
      const deployment = deployed.get(prepared);
      if (deployment === undefined) return;
      deployments?.recordExecution(executionId, deployment);
    },
    async prepare(choice, caller, version) {
      switch (choice.case) {
        case "blueprintId": {
          const pinned = version !== undefined && version !== 0;
          if (deployments !== undefined) {
            const found = await deployments.resolve(caller.namespace, choice.value, version);
            if (found !== undefined) {
              deployed.set(found.prepared, found.deployment);
              return found.prepared;
            }
          }
          // The project's files are the default namespace's; other namespaces have deployed blueprints only.
          if (caller.namespace !== "default") {
            throw new ConnectError(
              `namespace "${caller.namespace}" has no blueprint "${choice.value}"`,
              Code.NotFound,
            );
          }
          if (pinned) {
            throw new ConnectError(
              `blueprint "${choice.value}" has no deployed versions${deployments === undefined ? " on this server (it keeps no deployments)" : ""}; leave version at 0 to run the project's file, or deploy it with conductor deploy`,
              Code.NotFound,
            );
          }
          return prepareById(choice.value, true);
        }
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

/**
 * Refuses a blueprint sent inline (or deployed through the API: its sender chose it too) whose nodes run core.shell,
 * unless the project allows it (`access.shell: any`).
 */
export function assertInlineShell(loaded: LoadedBlueprint, shell: ShellAccess): void {
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
