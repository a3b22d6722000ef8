import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { exitCodeAfter, printResult, watchExecution } from "./execution-output.js";
import { createInterrupts } from "./interrupts.js";
import { openConductor } from "./open-conductor.js";

/** `conductor rerun <id> --from <node>`: runs again from a node, reusing the recorded results upstream of it. */
export default async function rerun(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      from: { type: "string" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      project: { type: "string" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const json = values.json === true;
  const quiet = values.quiet === true;
  if (positionals.length !== 1 || values.from === undefined) {
    context.stderr.write(
      "conductor rerun: expected an execution id and --from <node>, e.g. `conductor rerun 3f2a… --from stats`\n",
    );
    return EXIT.usage;
  }
  const conductor = await openConductor({
    project: values.project,
    stderr: context.stderr,
    oneShot: true,
    label: "conductor rerun",
  });
  // As for `conductor run`: Ctrl-C and the like cancel the new execution, which is recorded so.
  const abort = new AbortController();
  const interrupts = createInterrupts({
    stderr: context.stderr,
    onInterrupt: (reason) => abort.abort(reason),
    onForcedExit: (reason) => conductor.abandon(reason),
  });
  try {
    const handle = await conductor.rerun(positionals[0]!, values.from, { signal: abort.signal });
    const watch = watchExecution(context, [], { json, quiet, events: false });
    const result = await handle.result;
    watch.close();
    return exitCodeAfter(printResult(context, result, { json, quiet }), result, interrupts);
  } catch (error) {
    return reportError(context, error, json);
  } finally {
    await conductor.close();
    interrupts.close();
  }
}
