import { blueprintJsonSchema } from "../blueprint/blueprint-schema.js";
import { projectJsonSchema } from "../project/project-config.js";
import { type CommandContext, EXIT, parseCommandArgs } from "./command.js";

/** The JSON Schemas `conductor schema` prints, by the name of the format they describe. */
const schemas: Record<string, () => Record<string, unknown>> = {
  blueprint: blueprintJsonSchema,
  project: projectJsonSchema,
};

/**
 * `conductor schema [blueprint|project]`: the JSON Schema of the blueprint format (the default) or of
 * `conductor.yaml`, for editors. The same schemas are committed as docs/blueprint.schema.json and
 * docs/project.schema.json and shipped in @conductor/host's schemas/ folder.
 */
export default async function schema(context: CommandContext): Promise<number> {
  const parsed = parseCommandArgs(context, { allowPositionals: true, options: {} });
  if (typeof parsed === "number") return parsed;
  const [name = "blueprint", ...extra] = parsed.positionals;
  const make = schemas[name];
  if (make === undefined || extra.length > 0) {
    context.stderr.write(
      `conductor schema: expected "blueprint" or "project", found ${JSON.stringify(parsed.positionals.join(" "))}\n`,
    );
    return EXIT.usage;
  }
  context.stdout.write(`${JSON.stringify(make(), null, 2)}\n`);
  return EXIT.ok;
}
