#!/usr/bin/env node
/**
 * The `conductor` command. Each subcommand lives in its own module and is imported only when used, so that
 * `conductor run` starts fast.
 */
import { Console } from "node:console";
import * as nodeModule from "node:module";
import { parseArgs } from "node:util";
import { type CommandContext, EXIT, reportError } from "./command.js";
import { helpText, VERSION } from "./help.js";
import { notifyStdoutClosed } from "./interrupts.js";

// Node keeps the compiled code of the modules a command loads on disk: later cold starts skip compiling them.
// Because a named import of a function an older Node lacks fails the whole bundle on load, it is looked up on the
// namespace (host/bin/conductor.js refuses a Node that old first anyway, with a message saying so).
(nodeModule as Partial<typeof nodeModule>).enableCompileCache?.();

// `conductor inspect <id> | head` closes our stdout early: stop quietly, as command-line tools do, instead of
// crashing with an unhandled EPIPE. A command running an execution is told instead: it cancels the execution, which
// is recorded, and then ends.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  if (!notifyStdoutClosed()) process.exit(process.exitCode ?? 0);
});
// A closed terminal (SIGHUP) takes stderr with it: a notice that cannot be written is no reason to crash.
process.stderr.on("error", () => {});

// Node modules run in this process (a project's TypeScript nodes) may print with console.log: everything the
// console prints goes to stderr, so that stdout holds only what the command prints (one JSON document with --json).
const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const [name, method] of Object.entries(toStderr)) {
  if (typeof method === "function") Object.assign(console, { [name]: (method as () => void).bind(toStderr) });
}

const commands: Record<string, () => Promise<{ default: (context: CommandContext) => Promise<number> }>> = {
  run: () => import("./run-command.js"),
  validate: () => import("./validate-command.js"),
  nodes: () => import("./nodes-command.js"),
  setup: () => import("./setup-command.js"),
  schema: () => import("./schema-command.js"),
  resume: () => import("./resume-command.js"),
  rerun: () => import("./rerun-command.js"),
  history: () => import("./history-command.js"),
  inspect: () => import("./inspect-command.js"),
  serve: () => import("./serve-command.js"),
  dev: () => import("./dev-command.js"),
  conformance: () => import("./conformance-command.js"),
  init: () => import("./init-command.js"),
  new: () => import("./new-command.js"),
  keys: () => import("./keys-command.js"),
  audit: () => import("./audit-command.js"),
  secrets: () => import("./secrets-command.js"),
  deploy: () => import("./deploy-command.js"),
  deployments: () => import("./deployments-command.js"),
  worker: () => import("./worker-command.js"),
  workers: () => import("./workers-command.js"),
  schedules: () => import("./schedules-command.js"),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(helpText(rest[0]));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`conductor ${VERSION}\n`);
    return EXIT.ok;
  }
  const load = commands[name];
  if (load === undefined) {
    process.stderr.write(`conductor: unknown command "${name}"\n\n${helpText()}`);
    return EXIT.usage;
  }
  // Arguments after `--` belong to another program (`conductor conformance -- <command…>`).
  const own = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (own.includes("--help") || own.includes("-h")) {
    process.stdout.write(helpText(name));
    return EXIT.ok;
  }
  const command = await load();
  const context: CommandContext = { args: rest, parseArgs, stdout: process.stdout, stderr: process.stderr };
  try {
    return await command.default(context);
  } catch (error) {
    // What a command does not report itself (opening the project or its journal, say) is reported the same way:
    // a ConductorError by its message and exit code, anything else with its stack as an internal error.
    return reportError(context, error, rest.includes("--json"));
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`conductor: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = EXIT.internal;
  },
);
