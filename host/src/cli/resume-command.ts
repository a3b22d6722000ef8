import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { exitCodeAfter, printResult, watchExecution } from "./execution-output.js";
import { createInterrupts } from "./interrupts.js";
import { openConductor } from "./open-conductor.js";

/** `conductor resume <id>`: continues an execution whose host died, without re-running what completed. */
export default async function resume(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      project: { type: "string" },
      all: { type: "boolean" },
      "allow-code-change": { type: "boolean" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const json = values.json === true;
  const quiet = values.quiet === true;
  if (positionals.length !== 1 && values.all !== true) {
    context.stderr.write("conductor resume: expected an execution id (see `conductor history`), or --all\n");
    return EXIT.usage;
  }
  const conductor = await openConductor({
    project: values.project,
    stderr: context.stderr,
    oneShot: true,
    label: "conductor resume",
    allowCodeChange: values["allow-code-change"] === true,
  });
  // As for `conductor run`: Ctrl-C and the like cancel what was resumed, which is recorded so.
  const abort = new AbortController();
  const interrupts = createInterrupts({
    stderr: context.stderr,
    onInterrupt: (reason) => abort.abort(reason),
    onForcedExit: (reason) => conductor.abandon(reason),
  });
  try {
    const options = { signal: abort.signal };
    const handles =
      values.all === true
        ? await conductor.resumeUnfinished(options)
        : [await conductor.resume(positionals[0]!, options)];
    if (handles.length === 0) {
      context.stderr.write(
        "conductor: no orphaned executions to resume (none is recorded as running without a live owner)\n",
      );
      return EXIT.ok;
    }
    let code: number = EXIT.ok;
    for (const handle of handles) {
      const detail = conductor.executions.get(handle.executionId);
      const nodes = Object.keys(detail?.nodes ?? {}).map((id) => ({ id, runtime: "", role: "step" }));
      const watch = watchExecution(context, nodes, { json, quiet, events: false });
      const unsubscribe = handle.subscribe(watch.onEvent);
      const result = await handle.result;
      unsubscribe();
      watch.close();
      code = Math.max(code, exitCodeAfter(printResult(context, result, { json, quiet }), result, interrupts));
    }
    return code;
  } catch (error) {
    return reportError(context, error, json);
  } finally {
    await conductor.close();
    interrupts.close();
  }
}
