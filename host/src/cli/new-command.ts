import { relative } from "node:path";
import { styleText } from "node:util";
import { NODE_LANGUAGES, type NodeLanguage, newNode } from "../project/scaffold/new-node.js";
import { nodeNames } from "../project/scaffold/node-names.js";
import { type CommandContext, EXIT, parseCommandArgs, reportError } from "./command.js";
import { describeReport } from "./init-command.js";

/**
 * `conductor new node <type> --lang ts|python|rust`: adds a node with its test to the project and registers it in
 * conductor.yaml, so `conductor nodes` lists it and a blueprint can use it at once.
 */
export default async function newCommand(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, {
    allowPositionals: true,
    options: {
      lang: { type: "string" },
      runtime: { type: "string" },
      project: { type: "string" },
      force: { type: "boolean" },
      json: { type: "boolean" },
    },
  });
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const [what, type, ...extra] = positionals;
  if (what !== "node" || type === undefined || extra.length > 0) {
    context.stderr.write(
      `conductor new: expected \`conductor new node <type> --lang ts|python|rust\`, found \`conductor new ${positionals.join(" ")}\`\n`,
    );
    return EXIT.usage;
  }
  if (!NODE_LANGUAGES.includes(values.lang as NodeLanguage)) {
    context.stderr.write(
      `conductor new node: --lang must be one of ${NODE_LANGUAGES.join(", ")}, found ${values.lang === undefined ? "nothing" : `"${values.lang}"`}\n`,
    );
    return EXIT.usage;
  }
  try {
    nodeNames(type);
  } catch (error) {
    context.stderr.write(`conductor new node: ${(error as Error).message}\n`);
    return EXIT.usage;
  }
  try {
    const result = await newNode({
      from: values.project ?? process.cwd(),
      type,
      lang: values.lang as NodeLanguage,
      ...(values.runtime === undefined ? {} : { runtime: values.runtime }),
      force: values.force === true,
    });
    if (values.json === true) {
      context.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return EXIT.ok;
    }
    context.stdout.write(describeReport(`node ${type}`, result));
    context.stdout.write(`registered:\n${result.registered.map((line) => `  ${line}`).join("\n")}\n`);
    const from = relative(process.cwd(), result.dir);
    context.stdout.write(
      `\n${styleText("bold", "next:")}\n${[
        ...(from === "" ? [] : [`cd ${from}`]),
        `${result.test}   # its test`,
        ...(result.build === undefined ? [] : [`${result.build}   # so the runtime serves it`]),
        `npx conductor nodes | grep ${type}   # its ports, as the host sees them`,
        `use it in a blueprint: nodes: { my-node: { type: ${type}, inputs: { text: … } } }`,
      ]
        .map((line) => `  ${line}`)
        .join("\n")}\n`,
    );
    return EXIT.ok;
  } catch (error) {
    return reportError(context, error, values.json === true);
  }
}
