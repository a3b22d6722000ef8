import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { type LoadedBlueprint, parseBlueprintText } from "../blueprint/load-blueprint.js";
import type { Conductor, PreparedBlueprint } from "../conductor.js";
import { listBlueprints } from "../project/blueprint-catalog.js";
import { SUB_BLUEPRINT_PREFIX } from "../runtime/sub-blueprint-runtime.js";
import { codeDigest, codeIdentity, stableJson } from "./code-identity.js";
import { pinnedDocuments } from "./deployment-pins.js";
import type {
  Deployment,
  DeploymentSource,
  DeploymentStore,
  ExecutionDeployment,
  PinnedSubBlueprint,
} from "./deployment-store.js";
import { DEFAULT_NAMESPACE } from "./roles.js";

/** What {@link Deployments.deploy} is given. */
export interface DeployRequest {
  /** The blueprint as JSON or YAML text. */
  text: string;
  /** Where the text came from, for messages (a file name, `<Deploy request>`). */
  source: string;
  namespace: string;
  /** Who deploys, as the audit trail names them. */
  actor: string;
  /** `api` when the caller chose the text (the Deploy RPC): then core.shell nodes follow `access.shell` as inline. */
  origin: DeploymentSource;
  message?: string;
}

/** A prepared deployed version, ready to start. */
export interface DeployedBlueprint {
  prepared: PreparedBlueprint;
  deployment: Deployment;
}

/**
 * Versioned deployments of a conductor's blueprints: publishing a blueprint (validated, with the identity of the
 * code its nodes run) as an immutable version in a namespace, and preparing the version a start asks for, pinned or
 * "latest" (the current version of the namespace's blueprint).
 */
export interface Deployments {
  readonly store: DeploymentStore;
  /** Validates and publishes; a text equal to an existing version (and with the same code) makes that one current. */
  deploy(request: DeployRequest): Promise<{ deployment: Deployment; created: boolean }>;
  /**
   * The version to start: `version` when given (NOT_FOUND when the namespace has no such version), else the current
   * one; undefined when the namespace has never deployed this blueprint (and no version was asked for).
   */
  resolve(namespace: string, blueprintId: string, version?: number): Promise<DeployedBlueprint | undefined>;
  /** Makes an existing version current (NOT_FOUND naming the versions there are, otherwise). */
  rollback(namespace: string, blueprintId: string, version: number): Deployment;
  /** Records the version an execution runs. */
  recordExecution(executionId: string, deployment: ExecutionDeployment): void;
}

/** Most prepared versions kept (each holds a validated graph). */
const MAX_PREPARED = 64;

/**
 * The digest of a version: of its document as parsed (so formatting and comments do not count), of its code and of
 * the sub-blueprints it pins (as parsed; left out when there are none, so versions deployed before sub-blueprints
 * were pinned keep their digest).
 */
export function deploymentDigest(
  document: unknown,
  code: Record<string, string>,
  subBlueprints: Record<string, unknown> = {},
): string {
  const pinned = Object.keys(subBlueprints).length === 0 ? {} : { subBlueprints };
  return createHash("sha256")
    .update(stableJson({ document, code, ...pinned }))
    .digest("hex");
}

/** The blueprint ids a document's `blueprint.<id>` nodes name, directly. */
export function subBlueprintIds(document: LoadedBlueprint["document"]): string[] {
  return Object.values(document.nodes)
    .map((node) => node.type)
    .filter((type) => type.startsWith(SUB_BLUEPRINT_PREFIX))
    .map((type) => type.slice(SUB_BLUEPRINT_PREFIX.length));
}

export function createDeployments(
  conductor: Conductor,
  store: DeploymentStore,
  options: { assertInline?: (loaded: LoadedBlueprint) => void } = {},
): Deployments {
  const prepared = new Map<string, Promise<PreparedBlueprint>>();
  const latest = new Map<string, { deployment: Deployment | undefined; generation: number }>();

  const load = async (text: string, source: string): Promise<LoadedBlueprint> =>
    parseBlueprintText(text, source);

  const prepare = (deployment: Deployment): Promise<PreparedBlueprint> => {
    // Keyed by namespace and blueprint too: equal documents in two namespaces are two versions.
    const key = `${deployment.namespace}\u0000${deployment.blueprintId}\u0000${deployment.digest}`;
    let entry = prepared.get(key);
    if (entry === undefined) {
      entry = load(
        deployment.document,
        `blueprint "${deployment.blueprintId}" version ${deployment.version} of namespace "${deployment.namespace}"`,
      ).then((loaded) => {
        if (deployment.source === "api") options.assertInline?.(loaded);
        // Its sub-blueprint nodes are checked against the copies the version pinned, not the files of now.
        return conductor.prepare(loaded, { subBlueprints: pinnedDocuments(deployment) });
      });
      entry.catch(() => prepared.delete(key));
      if (prepared.size >= MAX_PREPARED) prepared.delete(prepared.keys().next().value!);
      prepared.set(key, entry);
    }
    return entry;
  };

  const versionsOf = (namespace: string, blueprintId: string) => {
    const versions = store.list(namespace, blueprintId).map((entry) => entry.version);
    return versions.length === 0 ? "none" : versions.join(", ");
  };

  /**
   * The sub-blueprints a version pins: every blueprint its `blueprint.<id>` nodes reach, to any depth, each as its id
   * names it now: the default namespace's current deployed version of it, else the project's file. Each is
   * validated, and its runtimes' code counts in the version's code identity.
   */
  const pinClosure = async (root: LoadedBlueprint) => {
    const pinned: Record<string, PinnedSubBlueprint> = {};
    const loaded: LoadedBlueprint[] = [];
    const prepared: PreparedBlueprint[] = [];
    const documents = new Map<string, BlueprintDocument>();
    const queue = subBlueprintIds(root.document);
    let files: Map<string, string> | undefined;
    while (queue.length > 0) {
      const id = queue.shift()!;
      if (id === root.id || pinned[id] !== undefined) continue;
      const current = store.current(DEFAULT_NAMESPACE, id);
      let pin: PinnedSubBlueprint;
      if (current !== undefined) {
        pin = { version: current.version, from: `version ${current.version}`, document: current.document };
      } else {
        files ??= new Map(
          (await listBlueprints(conductor.project)).map((entry) => [entry.id, entry.path] as const),
        );
        const path = files.get(id);
        if (path === undefined) {
          throw new ConnectError(
            `blueprint "${root.id}" uses blueprint.${id}, which is neither deployed in namespace "${DEFAULT_NAMESPACE}" nor a blueprint file of the project`,
            Code.FailedPrecondition,
          );
        }
        const file = resolve(conductor.project.dir, path);
        pin = {
          version: 0,
          from: relative(conductor.project.dir, file),
          document: await readFile(file, "utf8"),
        };
      }
      const child = await load(pin.document, `sub-blueprint "${id}" (${pin.from}) of blueprint "${root.id}"`);
      pinned[id] = pin;
      loaded.push(child);
      documents.set(id, child.document);
      queue.push(...subBlueprintIds(child.document));
    }
    // Each is checked against the others as pinned, not against the project's files of now.
    for (const child of loaded) prepared.push(await conductor.prepare(child, { subBlueprints: documents }));
    return { pinned, loaded, prepared, documents };
  };

  return {
    store,
    async deploy(request) {
      const loaded = await load(request.text, request.source);
      if (request.namespace !== DEFAULT_NAMESPACE) {
        const nested = Object.entries(loaded.document.nodes).find(([, node]) =>
          node.type.startsWith("blueprint."),
        );
        if (nested !== undefined) {
          throw new ConnectError(
            `nodes.${nested[0]} uses ${nested[1].type}, a blueprint of the default namespace, which namespace "${request.namespace}" cannot reach; deploy a blueprint without sub-blueprints there`,
            Code.PermissionDenied,
          );
        }
      }
      if (request.origin === "api") options.assertInline?.(loaded);
      // Validated (and bound to runtimes) before anything is published: a version that cannot run is refused.
      const closure = await pinClosure(loaded);
      const ready = await conductor.prepare(loaded, { subBlueprints: closure.documents });
      const runtimes = ready.graph.nodes.map((node) => node.runtime);
      for (const child of closure.prepared) runtimes.push(...child.graph.nodes.map((node) => node.runtime));
      const code = await codeIdentity(conductor.project, runtimes);
      const digest = deploymentDigest(
        loaded.document,
        code,
        Object.fromEntries(closure.loaded.map((child) => [child.id, child.document])),
      );
      const result = store.publish({
        namespace: request.namespace,
        blueprintId: loaded.id,
        digest,
        codeDigest: codeDigest(code),
        code,
        document: request.text,
        subBlueprints: closure.pinned,
        deployedAt: Date.now(),
        deployedBy: request.actor,
        source: request.origin,
        message: request.message ?? "",
      });
      latest.delete(`${request.namespace}\u0000${loaded.id}`);
      return result;
    },
    async resolve(namespace, blueprintId, version) {
      if (version !== undefined && version !== 0) {
        const deployment = store.get(namespace, blueprintId, version);
        if (deployment === undefined) {
          throw new ConnectError(
            `namespace "${namespace}" has no version ${version} of blueprint "${blueprintId}"; its versions are ${versionsOf(namespace, blueprintId)}`,
            Code.NotFound,
          );
        }
        return { prepared: await prepare(deployment), deployment };
      }
      // "Latest" is looked up again only when the database changed (SQLite's data_version moves when any process
      // commits), so a deploy or rollback by another process (conductor deploy) holds from the next start on.
      const key = `${namespace}\u0000${blueprintId}`;
      const generation = store.generation();
      let cached = latest.get(key);
      if (cached === undefined || cached.generation !== generation) {
        cached = { deployment: store.current(namespace, blueprintId), generation };
        if (latest.size >= 1_000) latest.clear();
        latest.set(key, cached);
      }
      if (cached.deployment === undefined) return undefined;
      return { prepared: await prepare(cached.deployment), deployment: cached.deployment };
    },
    rollback(namespace, blueprintId, version) {
      const deployment = store.setCurrent(namespace, blueprintId, version);
      if (deployment === undefined) {
        throw new ConnectError(
          `namespace "${namespace}" has no version ${version} of blueprint "${blueprintId}"; its versions are ${versionsOf(namespace, blueprintId)}`,
          Code.NotFound,
        );
      }
      latest.delete(`${namespace}\u0000${blueprintId}`);
      return deployment;
    },
    recordExecution(executionId, deployment) {
      store.recordExecution(executionId, deployment);
    },
  };
}
