import { z } from "zod";

/**
 * The blueprint file format, `conductor: blueprint/v1`. A blueprint is a graph of nodes with named ports; each
 * node input is bound to another node's output (`"read.text"`), to a blueprint input (`"inputs.path"`) or to a
 * literal (`{ value: ... }`), which makes every edge explicit and lets a visual editor round-trip the file.
 * The JSON Schema published for editors (`docs/blueprint.schema.json`) is generated from this zod schema.
 */

/** Node ids and port names: letters, digits, `_` and `-`, starting with a letter or `_`. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const identifier = z.string().regex(IDENTIFIER, "expected an identifier (letters, digits, _ and -)");

/** The pseudo node whose outputs are the blueprint's inputs. */
export const INPUTS_NODE = "inputs";

const bindingString = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_-]*$/, 'expected "<node>.<port>" or "inputs.<name>"')
  .describe('The output a port reads: "<node>.<port>", or "inputs.<name>" for a blueprint input.');

export const bindingSchema = z.union([
  bindingString,
  z.strictObject({ from: bindingString }),
  z.strictObject({ value: z.unknown().describe("A literal value for this port.") }),
]);

const jsonSchemaObject = z
  .record(z.string(), z.unknown())
  .describe("A JSON Schema (2020-12) describing the values.");

export const blueprintInputSchema = z.strictObject({
  schema: jsonSchemaObject.optional(),
  default: z.unknown().optional(),
  description: z.string().optional(),
  required: z
    .boolean()
    .optional()
    .describe("Whether a run must give a value; default: true unless a default is set."),
});

export const blueprintOutputSchema = z.union([
  bindingString,
  z.strictObject({ from: bindingString, description: z.string().optional() }),
]);

export const blueprintNodeSchema = z.strictObject({
  type: z.string().min(1).describe('The node type, e.g. "core.http-request".'),
  title: z.string().optional(),
  description: z.string().optional(),
  runtime: z
    .string()
    .optional()
    .describe('Run this node on a named runtime of the project, e.g. "node" for the sidecar.'),
  config: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("The node's config, checked by its config schema."),
  inputs: z.record(identifier, bindingSchema).optional().describe("One binding per input port."),
  timeoutMs: z.number().int().positive().optional().describe("Time budget of one attempt, in milliseconds."),
  ui: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("Editor metadata (position, colour), kept verbatim."),
});

export const blueprintSchema = z.strictObject({
  conductor: z.literal("blueprint/v1").describe("The format version of this file."),
  id: identifier.optional().describe("The blueprint id; defaults to the file name without extensions."),
  title: z.string().optional(),
  description: z.string().optional(),
  inputs: z.record(identifier, blueprintInputSchema).optional(),
  outputs: z.record(identifier, blueprintOutputSchema).optional(),
  nodes: z.record(identifier, blueprintNodeSchema),
  ui: z.record(z.string(), z.unknown()).optional(),
});

/** A blueprint as written in its file. */
export type BlueprintDocument = z.infer<typeof blueprintSchema>;
export type BlueprintNodeDocument = z.infer<typeof blueprintNodeSchema>;
export type BindingDocument = z.infer<typeof bindingSchema>;

/** The JSON Schema of the blueprint format, for editors. */
export function blueprintJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(blueprintSchema, { target: "draft-2020-12", io: "input" }),
    $id: "https://conductor.dev/schemas/blueprint-v1.json",
    title: "Conductor blueprint",
  };
}
