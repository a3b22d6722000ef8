import { blueprintJsonSchema } from "../blueprint/blueprint-schema.js";
import { type CommandContext, EXIT } from "./command.js";

/** `conductor schema`: the JSON Schema of the blueprint format. */
export default async function schema(context: CommandContext): Promise<number> {
  context.stdout.write(`${JSON.stringify(blueprintJsonSchema(), null, 2)}\n`);
  return EXIT.ok;
}
