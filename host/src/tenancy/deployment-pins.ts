import { existsSync } from "node:fs";
import { join } from "node:path";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { type LoadedBlueprint, parseBlueprint } from "../blueprint/parse-blueprint.js";
import type { Project } from "../project/project-config.js";
import { codeIdentity } from "./code-identity.js";
import { type Deployment, type DeploymentStore, openDeploymentStore } from "./deployment-store.js";
import { TENANCY_FILE } from "./tenancy-store.js";

/** How a deployed version's code differs from the code on disk now. */
export interface CodeChange {
  deployment: Deployment;
  /** The runtimes whose code identity is not the one recorded when the version was deployed, by name. */
  runtimes: string[];
}

/**
 * What an execution started from a deployed version holds on to after it started: the sub-blueprints its version
 * pinned, and the identity of its node code. The conductor asks it when a `blueprint.<id>` node of such an execution
 * starts its child, and before such an execution is resumed.
 */
export interface DeploymentPins {
  /**
   * The blueprint a `blueprint.<id>` node of the execution tree rooted at `rootExecutionId` runs: the text the
   * root's version pinned, or undefined when the root did not start from a deployed version (or from one deployed
   * before versions pinned their sub-blueprints), which then runs the project's file.
   */
  subBlueprint(rootExecutionId: string, id: string): LoadedBlueprint | undefined;
  /**
   * Every sub-blueprint the root's version pinned, by id (what its `blueprint.<id>` nodes are checked against), or
   * undefined as for {@link subBlueprint}.
   */
  subBlueprints(rootExecutionId: string): Map<string, BlueprintDocument> | undefined;
  /**
   * For an execution started from a deployed version: the runtimes whose code differs now from the code the version
   * was deployed with (an empty list when none does); undefined for any other execution.
   */
  codeChanges(executionId: string): Promise<CodeChange | undefined>;
  /** Records that `executionId` (a re-run of `fromExecutionId`) runs the version `fromExecutionId` ran, if any. */
  inherit(executionId: string, fromExecutionId: string): void;
  close(): void;
}

/**
 * The pins of a project's deployments, read from `.conductor/tenancy.db`; undefined while that file does not exist
 * (nothing was ever deployed, so nothing is pinned). Opened lazily by the conductor, like its secrets.
 */
export function openDeploymentPins(project: Project): DeploymentPins | undefined {
  if (!existsSync(join(project.dir, TENANCY_FILE))) return undefined;
  const store = openDeploymentStore(project.dir);
  return deploymentPins(project, store);
}

/** The {@link DeploymentPins} of a deployment store. */
export function deploymentPins(project: Project, store: DeploymentStore): DeploymentPins {
  const versionOf = (executionId: string): Deployment | undefined => {
    const pinned = store.executionDeployment(executionId);
    return pinned === undefined ? undefined : store.get(pinned.namespace, pinned.blueprintId, pinned.version);
  };
  return {
    subBlueprint(rootExecutionId, id) {
      const deployment = versionOf(rootExecutionId);
      const pin = deployment?.subBlueprints[id];
      if (deployment === undefined || pin === undefined) return undefined;
      return parseBlueprint(
        pin.document,
        `sub-blueprint "${id}" (${pin.from}) pinned by version ${deployment.version} of blueprint "${deployment.blueprintId}"`,
      );
    },
    subBlueprints(rootExecutionId) {
      const deployment = versionOf(rootExecutionId);
      if (deployment === undefined) return undefined;
      return pinnedDocuments(deployment);
    },
    async codeChanges(executionId) {
      const deployment = versionOf(executionId);
      if (deployment === undefined) return undefined;
      const now = await codeIdentity(project, Object.keys(deployment.code));
      const runtimes = Object.keys(deployment.code)
        .filter((name) => deployment.code[name] !== now[name])
        .sort();
      return { deployment, runtimes };
    },
    inherit(executionId, fromExecutionId) {
      const pinned = store.executionDeployment(fromExecutionId);
      if (pinned !== undefined) store.recordExecution(executionId, pinned);
    },
    close() {
      store.close();
    },
  };
}

/** The sub-blueprints a deployed version pinned, parsed, by id. */
export function pinnedDocuments(deployment: Deployment): Map<string, BlueprintDocument> {
  return new Map(
    Object.entries(deployment.subBlueprints).map(([id, pin]) => [
      id,
      parseBlueprint(
        pin.document,
        `sub-blueprint "${id}" (${pin.from}) pinned by version ${deployment.version} of blueprint "${deployment.blueprintId}"`,
      ).document,
    ]),
  );
}
