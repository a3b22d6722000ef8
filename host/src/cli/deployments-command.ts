import { resolve } from "node:path";
import { styleText } from "node:util";
import { findProject } from "../project/project-config.js";
import { diffDeployments } from "../tenancy/deployment-diff.js";
import { type DeploymentStore, openDeploymentStore } from "../tenancy/deployment-store.js";
import { namespaceProblem } from "../tenancy/roles.js";
import { openTenancyStore, type TenancyStore } from "../tenancy/tenancy-store.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError, reportNotFound } from "./command.js";
import { deploymentJson, deploymentLine } from "./deploy-command.js";
import { localActor } from "./keys-command.js";

const VERSION = /^[1-9][0-9]{0,8}$/;

/**
 * `conductor deployments [list [<blueprint>] | diff <blueprint> <a> <b> | rollback <blueprint> <version>]`: the
 * deployed versions of a namespace, what changed between two versions (nodes, inputs, outputs, code by runtime),
 * and rolling back (making an earlier version current; recorded in the audit trail).
 */
export default async function deployments(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      project: { type: "string" },
      namespace: { type: "string", short: "n" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const json = values.json === true;
  const [action = "list", ...rest] = positionals;
  const usage = (message: string) => {
    context.stderr.write(
      `conductor deployments: ${message}\nrun \`conductor deployments --help\` for usage\n`,
    );
    return EXIT.usage;
  };
  const namespace = values.namespace ?? "default";
  const problem = namespaceProblem(namespace);
  if (problem !== undefined) return usage(`--namespace: ${problem}`);
  if (action === "list" && rest.length > 1) return usage("list takes at most one blueprint id");
  if (action === "diff" && (rest.length !== 3 || !VERSION.test(rest[1]!) || !VERSION.test(rest[2]!))) {
    return usage("diff takes a blueprint id and two version numbers, e.g. diff orders 1 2");
  }
  if (action === "rollback" && (rest.length !== 2 || !VERSION.test(rest[1]!))) {
    return usage("rollback takes a blueprint id and a version number, e.g. rollback orders 1");
  }
  if (!["list", "diff", "rollback"].includes(action)) {
    return usage(`expected list, diff or rollback, got "${action}"`);
  }

  let store: DeploymentStore;
  let tenancy: TenancyStore;
  try {
    const project = await findProject(values.project === undefined ? process.cwd() : resolve(values.project));
    store = openDeploymentStore(project.dir);
    tenancy = await openTenancyStore(project.dir);
  } catch (error) {
    return reportError(context, error, json);
  }
  const versionsOf = (id: string) =>
    store
      .list(namespace, id)
      .map((entry) => entry.version)
      .join(", ") || "none";
  try {
    switch (action) {
      case "list": {
        const list = store.list(namespace, rest[0]);
        if (json) {
          context.stdout.write(
            `${JSON.stringify({ namespace, deployments: list.map((entry) => deploymentJson(entry)) }, null, 2)}\n`,
          );
        } else if (list.length === 0) {
          context.stdout.write(
            `namespace "${namespace}" has no deployed ${rest[0] === undefined ? "blueprints" : `versions of "${rest[0]}"`}; deploy one with: conductor deploy <blueprint file>\n`,
          );
        } else {
          context.stdout.write(`${list.map(deploymentLine).join("\n")}\n`);
        }
        return EXIT.ok;
      }
      case "diff": {
        const [id, a, b] = rest as [string, string, string];
        const from = store.get(namespace, id, Number(a));
        const to = store.get(namespace, id, Number(b));
        const missing = from === undefined ? a : to === undefined ? b : undefined;
        if (missing !== undefined || from === undefined || to === undefined) {
          return reportNotFound(
            context,
            `namespace "${namespace}" has no version ${missing} of blueprint "${id}"; its versions are ${versionsOf(id)}`,
            json,
          );
        }
        const diff = await diffDeployments(from, to);
        if (json) {
          context.stdout.write(`${JSON.stringify(diff, null, 2)}\n`);
          return EXIT.ok;
        }
        const lines = [`${id}@${a} → ${id}@${b}`];
        for (const part of ["nodes", "inputs", "outputs"] as const) {
          for (const name of diff[part].added) lines.push(styleText("green", `  + ${part}.${name}`));
          for (const name of diff[part].removed) lines.push(styleText("red", `  - ${part}.${name}`));
          for (const name of diff[part].changed) lines.push(styleText("yellow", `  ~ ${part}.${name}`));
        }
        for (const id of diff.subBlueprints.added) lines.push(styleText("green", `  + sub-blueprint ${id}`));
        for (const id of diff.subBlueprints.removed) lines.push(styleText("red", `  - sub-blueprint ${id}`));
        for (const id of diff.subBlueprints.changed)
          lines.push(styleText("yellow", `  ~ sub-blueprint ${id}`));
        for (const field of diff.other) lines.push(styleText("yellow", `  ~ ${field}`));
        for (const runtime of diff.code) lines.push(styleText("yellow", `  ~ code of runtime "${runtime}"`));
        if (lines.length === 1) lines.push("  no differences");
        context.stdout.write(`${lines.join("\n")}\n`);
        return EXIT.ok;
      }
      default: {
        const [id, version] = rest as [string, string];
        const actor = localActor();
        const target = `blueprint:${id}@${version}`;
        const deployment = store.setCurrent(namespace, id, Number(version));
        if (deployment === undefined) {
          tenancy.audit({
            actor,
            namespace,
            action: "rollback",
            target,
            address: "local",
            outcome: "not_found",
            detail: "",
          });
          return reportNotFound(
            context,
            `namespace "${namespace}" has no version ${version} of blueprint "${id}"; its versions are ${versionsOf(id)}`,
            json,
          );
        }
        tenancy.audit({
          actor,
          namespace,
          action: "rollback",
          target,
          address: "local",
          outcome: "ok",
          detail: "",
        });
        if (json)
          context.stdout.write(`${JSON.stringify({ deployment: deploymentJson(deployment) }, null, 2)}\n`);
        else
          context.stdout.write(
            `${styleText("green", "✓")} ${id}@${version} is current in namespace "${namespace}"; starts that name no version run it\n`,
          );
        return EXIT.ok;
      }
    }
  } catch (error) {
    return reportError(context, error, json);
  } finally {
    tenancy.close();
    store.close();
  }
}
