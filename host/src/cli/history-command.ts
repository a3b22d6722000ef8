import { styleText } from "node:util";
import { stringifyJson } from "@conductor/sdk/protocol";
import type { ExecutionSummary } from "../store/execution-store.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { toJsonSafe } from "./format-value.js";
import { openConductor } from "./open-conductor.js";
import { formatMs } from "./progress-view.js";

const COLORS: Record<ExecutionSummary["status"] | "orphaned", Parameters<typeof styleText>[0]> = {
  running: "cyan",
  orphaned: "magenta",
  completed: "green",
  failed: "red",
  cancelled: "yellow",
};

/** `conductor history`: the project's recorded executions, newest first. */
export default async function history(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    options: {
      json: { type: "boolean" },
      project: { type: "string" },
      blueprint: { type: "string" },
      status: { type: "string" },
      limit: { type: "string" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const statuses = ["running", "orphaned", "completed", "failed", "cancelled"];
  if (values.status !== undefined && !statuses.includes(values.status)) {
    context.stderr.write(
      `conductor history: --status expects one of ${statuses.join(", ")}, found "${values.status}"\n`,
    );
    return EXIT.usage;
  }
  const conductor = await openConductor({ project: values.project, stderr: context.stderr });
  try {
    const list = conductor.executions.list({
      limit: values.limit === undefined ? 20 : Number(values.limit),
      ...(values.blueprint === undefined ? {} : { blueprintId: values.blueprint }),
      ...(values.status === undefined
        ? {}
        : values.status === "orphaned"
          ? { orphaned: true }
          : { status: values.status as ExecutionSummary["status"] }),
    });
    if (values.json === true) {
      context.stdout.write(`${stringifyJson(toJsonSafe(list), 2)}\n`);
      return EXIT.ok;
    }
    if (list.length === 0) {
      context.stdout.write(
        "no executions recorded in this project yet; run one with `conductor run <blueprint>`\n",
      );
      return EXIT.ok;
    }
    for (const execution of list) {
      const when = new Date(execution.startedAt).toISOString().replace("T", " ").slice(0, 19);
      const duration = execution.durationMs === undefined ? "" : formatMs(execution.durationMs);
      const failure =
        execution.failure === undefined
          ? ""
          : `  ${execution.failure.nodeId}: ${execution.failure.message.split("\n")[0]}`;
      const status = execution.orphaned === undefined ? execution.status : "orphaned";
      const notes = [
        ...lineageNotes(execution),
        ...(execution.orphaned === undefined ? [] : [orphanNote(execution)]),
      ];
      context.stdout.write(
        `${execution.executionId}  ${when}  ${styleText(COLORS[status], status.padEnd(9))} ${execution.blueprintId.padEnd(20)} ${duration.padStart(9)}${styleText("gray", failure)}${notes.length === 0 ? "" : styleText("gray", `  (${notes.join("; ")})`)}\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, values.json === true);
  } finally {
    await conductor.close();
  }
}

/** Where an execution comes from, in words: `rerun of 3f2a… from stats`, `resumed 2×`, `in 9c1…/sub`. */
export function lineageNotes(execution: ExecutionSummary): string[] {
  const notes: string[] = [];
  const lineage = execution.lineage;
  if (lineage?.rerunOf !== undefined)
    notes.push(
      `rerun of ${lineage.rerunOf}${lineage.rerunFrom === undefined ? "" : ` from ${lineage.rerunFrom}`}`,
    );
  if (lineage?.parentId !== undefined)
    notes.push(
      `sub-blueprint of ${lineage.parentId}${lineage.parentNode === undefined ? "" : ` node ${lineage.parentNode}`}`,
    );
  if (execution.resumes !== undefined) notes.push(`resumed ${execution.resumes}× after its host stopped`);
  return notes;
}

/** Why nobody runs an execution recorded as running, and what continues it. */
export function orphanNote(execution: ExecutionSummary): string {
  const owner = execution.owner;
  const why =
    execution.orphaned === "dead"
      ? `its owner ${owner?.label ?? "process"} (pid ${owner?.pid}) is gone`
      : execution.orphaned === "expired"
        ? `its owner ${owner?.label ?? "process"} (pid ${owner?.pid} on ${owner?.host}) stopped renewing its lease`
        : "no owner recorded";
  return `${why}; \`conductor resume ${execution.executionId}\` or \`conductor serve\` continues it`;
}
