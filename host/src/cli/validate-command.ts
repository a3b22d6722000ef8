import { styleText } from "node:util";
import { formatDiagnostics } from "../errors.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { openConductor } from "./open-conductor.js";

/** `conductor validate <blueprint>`: reports every problem, runs nothing. */
export default async function validate(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: { json: { type: "boolean" }, project: { type: "string" } },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    context.stderr.write("conductor validate: expected one blueprint file\n");
    return EXIT.usage;
  }
  const conductor = await openConductor({
    project: values.project,
    blueprint: positionals[0],
    stderr: context.stderr,
  });
  try {
    const { valid, diagnostics } = await conductor.validate(positionals[0]!);
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify({ valid, diagnostics }, null, 2)}\n`);
    } else if (valid) {
      context.stdout.write(`${styleText("green", "✓")} ${positionals[0]} is valid\n`);
    } else {
      context.stdout.write(
        `${styleText("red", "✗")} ${positionals[0]} has ${diagnostics.length} problem${diagnostics.length === 1 ? "" : "s"}:\n${formatDiagnostics(diagnostics)}\n`,
      );
    }
    return valid ? EXIT.ok : EXIT.invalid;
  } catch (error) {
    return reportError(context, error, values.json === true);
  } finally {
    await conductor.close();
  }
}
