import { styleText } from "node:util";
import { suggest } from "../blueprint/suggest.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError, reportNotFound } from "./command.js";
import { openConductor } from "./open-conductor.js";

/** `conductor nodes`: every node type of every runtime, with ports and flags. */
export default async function nodes(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    options: { json: { type: "boolean" }, project: { type: "string" }, runtime: { type: "string" } },
  });
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const conductor = await openConductor({ project: values.project, stderr: context.stderr, oneShot: true });
  try {
    const all = await conductor.nodeTypes();
    const entries = all.filter((entry) => values.runtime === undefined || entry.runtime === values.runtime);
    // A runtime that did not start is left out of the list: say so, and end with the runtime exit code.
    const health = conductor.runtimeHealth();
    const broken = health.filter(
      (runtime) => runtime.state === "broken" && (values.runtime ?? runtime.name) === runtime.name,
    );
    const done = (): number => {
      for (const runtime of broken) {
        context.stderr.write(
          `conductor nodes: runtime "${runtime.name}" is broken, so its node types are not listed: ${runtime.reason ?? ""}\n`,
        );
      }
      return broken.length > 0 ? EXIT.runtime : EXIT.ok;
    };
    // Checked after the broken runtimes: a runtime that exists but did not start is broken, not unknown.
    if (values.runtime !== undefined && entries.length === 0 && broken.length === 0) {
      const runtimes = [
        ...new Set([...all.map((entry) => entry.runtime), ...health.map((runtime) => runtime.name)]),
      ];
      const hint = suggest(values.runtime, runtimes);
      return reportNotFound(
        context,
        `no node type matched --runtime "${values.runtime}": the project's runtimes are ${runtimes.join(", ")}${hint === undefined ? "" : `; ${hint}`}`,
        values.json === true,
      );
    }
    const parse = (text: string) => (text === "" ? {} : (JSON.parse(text) as unknown));
    if (values.json === true) {
      const list = entries.map(({ runtime, language, nodeType }) => ({
        type: nodeType.type,
        version: nodeType.version,
        runtime,
        language,
        title: nodeType.title,
        description: nodeType.description,
        flags: flagsOf(nodeType.flags),
        defaultTimeoutMs: nodeType.defaultTimeoutMs,
        config: parse(nodeType.configSchema),
        inputs: nodeType.inputs.map((port) => ({
          name: port.name,
          required: port.required,
          description: port.description,
          schema: parse(port.schema),
          ...(port.stream ? { stream: true } : {}),
        })),
        outputs: nodeType.outputs.map((port) => ({
          name: port.name,
          description: port.description,
          schema: parse(port.schema),
          ...(port.stream ? { stream: true } : {}),
        })),
      }));
      context.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return done();
    }
    let runtime = "";
    for (const { runtime: name, language, nodeType } of entries) {
      if (name !== runtime) {
        runtime = name;
        context.stdout.write(`\n${styleText("bold", `${name}`)} ${styleText("gray", `(${language})`)}\n`);
      }
      const flags = Object.entries(flagsOf(nodeType.flags))
        .filter(([, on]) => on)
        .map(([key]) => key);
      // A stream port is marked `*` (docs/streaming.md).
      const inputs = nodeType.inputs
        .map((port) => `${port.name}${port.stream ? "*" : ""}${port.required ? "" : "?"}`)
        .join(", ");
      const outputs = nodeType.outputs.map((port) => `${port.name}${port.stream ? "*" : ""}`).join(", ");
      context.stdout.write(
        `  ${nodeType.type.padEnd(26)} (${inputs}) → (${outputs})${flags.length > 0 ? styleText("gray", `  [${flags.join(", ")}]`) : ""}\n`,
      );
      if (nodeType.description !== "")
        context.stdout.write(`  ${"".padEnd(26)} ${styleText("gray", nodeType.description)}\n`);
    }
    return done();
  } catch (error) {
    return reportError(context, error, values.json === true);
  } finally {
    await conductor.close();
  }
}

/** A node type's flags as plain booleans (without the message's type name). */
function flagsOf(flags: object | undefined): Record<string, boolean> {
  const plain: Record<string, boolean> = {};
  for (const [key, value] of Object.entries(flags ?? {})) if (typeof value === "boolean") plain[key] = value;
  return plain;
}
