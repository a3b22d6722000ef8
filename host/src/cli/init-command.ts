import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { styleText } from "node:util";
import { projectScaffold, SCAFFOLD_BLUEPRINT } from "../project/scaffold/project-scaffold.js";
import { type ScaffoldReport, writeScaffold } from "../project/scaffold/write-scaffold.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";

/**
 * `conductor init [dir]`: scaffolds a working project (conductor.yaml, a blueprint, a TypeScript node and a
 * Python node with their tests, a Rust node crate with --rust, editor schema hook-ups, .gitignore) and prints the
 * commands to run next. It installs nothing, so it takes a moment; it refuses to overwrite the project's files
 * unless --force.
 */
export default async function init(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: { rust: { type: "boolean" }, force: { type: "boolean" }, json: { type: "boolean" } },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  if (positionals.length > 1) {
    context.stderr.write(`conductor init: expected at most one directory, found ${positionals.length}\n`);
    return EXIT.usage;
  }
  const target = positionals[0] ?? ".";
  const dir = resolve(target);
  try {
    const report = await writeScaffold(dir, projectScaffold({ dir, rust: values.rust === true }), {
      force: values.force === true,
    });
    const next = nextCommands(target, dir, values.rust === true);
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify({ ...report, next }, null, 2)}\n`);
    } else {
      context.stdout.write(
        describeReport(`a Conductor project in ${relative(process.cwd(), dir) || "."}`, report),
      );
      context.stdout.write(
        `\n${styleText("bold", "next:")}\n${next.map((line) => `  ${line}`).join("\n")}\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, values.json === true);
  }
}

/** The commands that install what the project needs, run its blueprint and its tests, from where the user is. */
function nextCommands(target: string, dir: string, rust: boolean): string[] {
  return [
    ...(target === "." ? [] : [`cd ${target}`]),
    ...(existsSync(join(dir, "node_modules", "@conductor", "host"))
      ? []
      : ["npm install @conductor/host @conductor/sdk zod"]),
    `npx conductor run ${SCAFFOLD_BLUEPRINT} -i name=Ada`,
    "node --test                                        # the TypeScript node's test",
    "npx conductor setup                                # the Python venv (and the Rust build) ahead of time",
    ".conductor/venv-python/bin/python -m pytest -q python  # the Python node's test",
    ...(rust ? ["(cd rust && cargo test --release)                  # the Rust node's test"] : []),
    "npx conductor new node <type> --lang ts|python|rust   # one more node, with its test",
  ];
}

/** Lines naming what a scaffold wrote: created, overwritten, updated and kept files. */
export function describeReport(what: string, report: ScaffoldReport): string {
  const lines = [`${styleText("green", "✓")} created ${what}:`];
  for (const path of report.created) lines.push(`  ${path}`);
  for (const path of report.overwritten) lines.push(`  ${path} (overwritten)`);
  for (const path of report.updated) lines.push(`  ${path} (updated)`);
  for (const path of report.kept) lines.push(`  ${path} (kept as it was)`);
  return `${lines.join("\n")}\n`;
}
