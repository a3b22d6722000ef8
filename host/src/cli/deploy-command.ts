import { readFile } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { styleText } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { ConductorError } from "../errors.js";
import { findProject } from "../project/project-config.js";
import type { Deployment } from "../tenancy/deployment-store.js";
import { openDeploymentStore } from "../tenancy/deployment-store.js";
import { createDeployments } from "../tenancy/deployments.js";
import { namespaceProblem } from "../tenancy/roles.js";
import { openTenancyStore } from "../tenancy/tenancy-store.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError, reportNotFound } from "./command.js";
import { localActor } from "./keys-command.js";
import { openConductor } from "./open-conductor.js";

/**
 * Reports an error of a deployment command: NOT_FOUND as "not found" (exit 5), another refusal of the request as
 * invalid (exit 3), the rest as {@link reportError} does.
 */
export function reportDeploymentError(context: CommandContext, error: unknown, json: boolean): number {
  if (error instanceof ConnectError) {
    if (error.code === Code.NotFound) return reportNotFound(context, error.rawMessage, json);
    return reportError(context, new ConductorError("inputs_invalid", error.rawMessage), json);
  }
  return reportError(context, error, json);
}

/** A deployment as `--json` prints it (its document only when asked). */
export function deploymentJson(deployment: Deployment, withDocument = false) {
  if (withDocument) return deployment;
  const { document: _document, subBlueprints, ...rest } = deployment;
  // Where each pinned sub-blueprint came from, without its text.
  const pinned = Object.fromEntries(
    Object.entries(subBlueprints).map(([id, pin]) => [id, { version: pin.version, from: pin.from }]),
  );
  return { ...rest, subBlueprints: pinned };
}

/** One line of a deployment, for people. */
export function deploymentLine(deployment: Deployment): string {
  const when = new Date(deployment.deployedAt).toISOString().replace("T", " ").slice(0, 19);
  const mark = deployment.current ? styleText("green", "● current") : "         ";
  return `${deployment.blueprintId}@${deployment.version}  ${mark}  ${deployment.digest.slice(0, 12)}  ${when}  ${deployment.deployedBy}${deployment.message === "" ? "" : `  ${deployment.message}`}`;
}

/**
 * `conductor deploy <blueprint> [--namespace <ns>] [--message <text>]`: validates a blueprint file and publishes it
 * as an immutable version of its namespace (default `default`), with the identity of the code its nodes run, and
 * makes it the current one. Deploying what an existing version already is makes that version current again.
 * Recorded in the audit trail.
 */
export default async function deploy(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      project: { type: "string" },
      namespace: { type: "string", short: "n" },
      message: { type: "string", short: "m" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const json = values.json === true;
  if (positionals.length !== 1) {
    context.stderr.write(
      "conductor deploy: expected one blueprint file\nrun `conductor deploy --help` for usage\n",
    );
    return EXIT.usage;
  }
  const namespace = values.namespace ?? "default";
  const problem = namespaceProblem(namespace);
  if (problem !== undefined) {
    context.stderr.write(`conductor deploy: --namespace: ${problem}\n`);
    return EXIT.usage;
  }
  const file = positionals[0]!;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return reportError(
      context,
      new ConductorError("blueprint_unreadable", `cannot read ${file}: ${(error as Error).message}`),
      json,
    );
  }
  const project = await findProject(
    values.project === undefined ? resolve(file, "..") : resolve(values.project),
  ).catch((error: unknown) => error as Error);
  if (project instanceof Error) return reportError(context, project, json);
  const conductor = await openConductor({
    project: project.dir,
    stderr: context.stderr,
    journal: false,
  });
  const store = openDeploymentStore(project.dir);
  const tenancy = await openTenancyStore(project.dir);
  const actor = localActor();
  try {
    const deployments = createDeployments(conductor, store);
    let result: Awaited<ReturnType<typeof deployments.deploy>>;
    try {
      result = await deployments.deploy({
        text,
        source: relative(project.dir, resolve(file)) || file,
        namespace,
        actor,
        origin: "cli",
        message: values.message ?? "",
      });
    } catch (error) {
      tenancy.audit({
        actor,
        namespace,
        action: "deploy",
        target: `file:${relative(project.dir, resolve(file))}`,
        address: "local",
        outcome: error instanceof ConnectError ? "refused" : "invalid",
        detail: (error as Error).message.slice(0, 500),
      });
      throw error;
    }
    const { deployment, created } = result;
    tenancy.audit({
      actor,
      namespace,
      action: "deploy",
      target: `blueprint:${deployment.blueprintId}@${deployment.version}`,
      address: "local",
      outcome: "ok",
      detail: created ? `digest ${deployment.digest}` : "unchanged: an equal version is now current",
    });
    if (json) {
      context.stdout.write(
        `${JSON.stringify({ deployment: deploymentJson(deployment), created }, null, 2)}\n`,
      );
    } else {
      context.stdout.write(
        created
          ? `${styleText("green", "✓")} deployed ${deployment.blueprintId}@${deployment.version} to namespace "${namespace}" (${deployment.digest.slice(0, 12)}); it is now current\n`
          : `${styleText("green", "✓")} ${deployment.blueprintId} is unchanged: version ${deployment.version} (${deployment.digest.slice(0, 12)}) is the same and is now current\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    return reportDeploymentError(context, error, json);
  } finally {
    tenancy.close();
    store.close();
    await conductor.close();
  }
}
