import { styleText } from "node:util";
import { formatCheckResult, formatSummary, type Style } from "../conformance/conformance-report.js";
import { conformanceChecks, runConformance } from "../conformance/run-conformance.js";
import { type CommandContext, EXIT, parseCommandArgs } from "./command.js";

/**
 * `conductor conformance [options] -- <command…>`: runs the conformance kit against a runtime program and prints a
 * line per check and the closing `N passed, M failed` line; exits 1 when a check failed.
 */
export default async function conformance(context: CommandContext): Promise<number> {
  const separator = context.args.indexOf("--");
  const own = separator < 0 ? context.args : context.args.slice(0, separator);
  const command = separator < 0 ? [] : context.args.slice(separator + 1);
  const parsed = parseCommandArgs(
    { ...context, args: own },
    {
      allowPositionals: false,
      options: {
        json: { type: "boolean" },
        list: { type: "boolean" },
        only: { type: "string", multiple: true },
        name: { type: "string" },
        patience: { type: "string" },
      },
    },
  );
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const only = (values.only ?? []).flatMap((entry) => entry.split(",")).filter((entry) => entry !== "");

  if (values.list === true) {
    for (const check of conformanceChecks) {
      if (only.length === 0 || only.some((prefix) => check.id.startsWith(prefix))) {
        context.stdout.write(`${check.id}  ${check.title}\n`);
      }
    }
    return EXIT.ok;
  }
  if (command.length === 0) {
    context.stderr.write(
      "conductor conformance: expected the runtime's command after --, e.g. `conductor conformance -- ./my-runtime --serve`\n",
    );
    return EXIT.usage;
  }
  const patienceMs = values.patience === undefined ? undefined : Number(values.patience);
  if (patienceMs !== undefined && !(Number.isInteger(patienceMs) && patienceMs > 0)) {
    context.stderr.write(
      `conductor conformance: --patience expects a positive number of milliseconds, found "${values.patience}"\n`,
    );
    return EXIT.usage;
  }
  const unknown = only.filter((prefix) => !conformanceChecks.some((check) => check.id.startsWith(prefix)));
  if (unknown.length > 0) {
    context.stderr.write(
      `conductor conformance: --only ${unknown.map((prefix) => `"${prefix}"`).join(", ")} names no check; \`conductor conformance --list\` lists them\n`,
    );
    return EXIT.usage;
  }

  const json = values.json === true;
  const style: Style =
    context.stdout.isTTY === true ? (format, text) => styleText(format, text) : (_f, text) => text;
  if (!json) context.stdout.write(`conformance kit: ${command.join(" ")}\n`);
  const report = await runConformance({
    command,
    ...(values.name === undefined ? {} : { runtimeName: values.name }),
    ...(only.length === 0 ? {} : { only }),
    ...(patienceMs === undefined ? {} : { patienceMs }),
    ...(json ? {} : { onResult: (result) => context.stdout.write(formatCheckResult(result, style)) }),
  });
  if (json) {
    context.stdout.write(`${JSON.stringify({ command, ...report }, null, 2)}\n`);
  } else {
    if (report.runtime !== undefined) {
      const { language, version, features, maxConcurrency } = report.runtime;
      context.stdout.write(
        `runtime: ${language} ${version}, features ${features.join(", ") || "(none)"}, max_concurrency ${maxConcurrency}\n`,
      );
    }
    context.stdout.write(formatSummary(report, style));
  }
  return report.ok ? EXIT.ok : EXIT.failed;
}
