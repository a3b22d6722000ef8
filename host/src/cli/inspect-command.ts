import { styleText } from "node:util";
import { parseJsonText, stringifyJson } from "@conductor/sdk/protocol";
import { previewJsonText } from "../api/json-text.js";
import { suggest } from "../blueprint/suggest.js";
import { ConductorError } from "../errors.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError, reportNotFound } from "./command.js";
import { formatPortsForPeople, indent, toJsonSafe } from "./format-value.js";
import { openConductor } from "./open-conductor.js";
import { formatMs } from "./progress-view.js";

/** Characters of each of an execution's own inputs and outputs shown by `conductor inspect` (without --json). */
export const EXECUTION_PREVIEW_CHARS = 4_000;

/** `conductor inspect <id>`: one recorded execution: node timings, inputs, outputs, logs and failures. */
export default async function inspect(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: { json: { type: "boolean" }, project: { type: "string" }, node: { type: "string" } },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    context.stderr.write("conductor inspect: expected an execution id (see `conductor history`)\n");
    return EXIT.usage;
  }
  const conductor = await openConductor({ project: values.project, stderr: context.stderr });
  try {
    const detail = conductor.executions.get(positionals[0]!);
    if (detail === undefined) {
      throw new ConductorError(
        "execution_not_found",
        `the project's journal has no execution "${positionals[0]}"; \`conductor history\` lists the recorded ones`,
      );
    }
    const nodes = Object.values(detail.nodes).filter(
      (node) => values.node === undefined || node.nodeId === values.node,
    );
    if (values.node !== undefined && nodes.length === 0) {
      const recorded = Object.keys(detail.nodes);
      const hint = suggest(values.node, recorded);
      return reportNotFound(
        context,
        `execution "${detail.executionId}" recorded nothing of a node "${values.node}"; ${recorded.length === 0 ? "it recorded no node" : `its nodes: ${recorded.join(", ")}`}${hint === undefined ? "" : `; ${hint}`}`,
        values.json === true,
      );
    }
    if (values.json === true) {
      // As in the API: the execution's inputs and outputs complete, each node's values as previews (a table's
      // first rows, marked "truncated"), so that a run over a million-row table does not print a million rows
      // per node.
      const record = {
        ...(toJsonSafe({ ...detail, nodes: {} }) as Record<string, unknown>),
        nodes: Object.fromEntries(nodes.map((node) => [node.nodeId, parseJsonText(previewJsonText(node))])),
      };
      context.stdout.write(`${stringifyJson(record, 2)}\n`);
      return EXIT.ok;
    }
    const out = (line: string) => context.stdout.write(`${line}\n`);
    out(
      `${styleText("bold", `execution ${detail.executionId}`)} of ${detail.blueprintId}: ${detail.status}${detail.durationMs === undefined ? "" : ` in ${formatMs(detail.durationMs)}`}`,
    );
    out(`started ${new Date(detail.startedAt).toISOString()}`);
    // Leads to the execution's spans in the tracing backend (docs/telemetry.md).
    if (detail.traceId !== undefined) out(`trace ${detail.traceId}`);
    // The execution's own inputs and outputs at length, each node's values shorter; a value of any size is cut to
    // a preview, and one recorded as a blob is read only as far as its preview (`--json` gives them whole).
    if (Object.keys(detail.inputs).length > 0)
      out(`inputs\n  ${indent(formatPortsForPeople(detail.inputs, EXECUTION_PREVIEW_CHARS), 2)}`);
    if (detail.outputs !== undefined)
      out(`outputs\n  ${indent(formatPortsForPeople(detail.outputs, EXECUTION_PREVIEW_CHARS), 2)}`);
    if (detail.failure !== undefined)
      out(styleText("red", `failed at node "${detail.failure.nodeId}": ${detail.failure.message}`));
    for (const node of nodes) {
      out("");
      const timing = node.durationMs === undefined ? "" : ` in ${formatMs(node.durationMs)}`;
      out(
        `${styleText("bold", node.nodeId)}  ${node.status}${timing}${node.runtime === undefined ? "" : `  on ${node.runtime}`}${node.attempt > 1 ? `  (attempt ${node.attempt})` : ""}`,
      );
      if (node.inputs !== undefined && Object.keys(node.inputs).length > 0)
        out(`  inputs\n    ${indent(formatPortsForPeople(node.inputs), 4)}`);
      if (node.outputs !== undefined) out(`  outputs\n    ${indent(formatPortsForPeople(node.outputs), 4)}`);
      for (const log of node.logs)
        out(
          styleText("gray", `  ${new Date(log.at).toISOString().slice(11, 23)} ${log.level}: ${log.message}`),
        );
      if (node.failure !== undefined) {
        out(
          styleText(
            "red",
            `  failure (${node.failure.type}${node.failure.retryable ? ", retryable" : ""}): ${node.failure.message}`,
          ),
        );
        if (node.failure.stack !== undefined) out(styleText("gray", indent(`  ${node.failure.stack}`, 4)));
      }
    }
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, values.json === true);
  } finally {
    await conductor.close();
  }
}
