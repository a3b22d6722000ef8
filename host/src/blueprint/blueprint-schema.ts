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

/**
 * The longest duration a blueprint may set, in milliseconds: 2^31 − 1 (about 24.8 days), the most a Node.js timer
 * accepts (a longer one fires at once) and within the runtime ABI's uint32 `timeout_ms`.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** A duration field in milliseconds, refused beyond {@link MAX_DURATION_MS} with a message saying why. */
const durationMs = () =>
  z
    .number()
    .int()
    .max(
      MAX_DURATION_MS,
      `expected at most ${MAX_DURATION_MS} ms (about 24.8 days), the longest a timer and the runtime ABI accept`,
    );

export const retrySchema = z
  .strictObject({
    maxAttempts: z.number().int().min(1).default(3).describe("Attempts in all, the first included."),
    initialDelayMs: durationMs().min(0).default(200),
    backoffCoefficient: z.number().min(1).default(2),
    maxDelayMs: durationMs().min(0).default(30_000),
    jitter: z.boolean().default(true).describe("Randomise each delay by up to ±20 %."),
  })
  .describe("Retry policy: retryable failures are tried again with exponential backoff.");

export const mapSchema = z
  .strictObject({
    over: identifier.describe("The input port that receives a list; the node runs once per element."),
    concurrency: z.number().int().min(1).default(8).describe("Most elements running at once."),
  })
  .describe("Run the node once per element of a list input; each output becomes a list in input order.");

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
  runsOn: z
    .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a label: letters, digits, '_', '.', '-'"))
    .min(1)
    .max(6)
    .optional()
    .describe(
      "Worker labels the node requires, e.g. [gpu]: it runs on a worker (conductor worker --labels) having them all. Its runtime must be remote (docs/distributed.md).",
    ),
  timeoutMs: durationMs().positive().optional().describe("Time budget of one attempt, in milliseconds."),
  heartbeatTimeoutMs: durationMs()
    .positive()
    .optional()
    .describe("Fail the attempt when the node sends no heartbeat, progress or log for this long."),
  retry: retrySchema.optional(),
  onError: z
    .enum(["fail", "continue", "route"])
    .optional()
    .describe(
      "fail (default): the execution fails; continue: the node's outputs are absent and the rest goes on; route: the failure goes to the node's `error` output.",
    ),
  when: z
    .string()
    .optional()
    .describe(
      'A JSONata condition over the node\'s inputs; when false the node is skipped, e.g. "amount > 100".',
    ),
  map: mapSchema.optional(),
  cache: z
    .boolean()
    .optional()
    .describe("Reuse results of earlier runs with the same inputs (deterministic node types only)."),
  compensate: z
    .string()
    .optional()
    .describe("The id of a compensation node to run when the execution fails after this node completed."),
  role: z
    .enum(["step", "compensation"])
    .optional()
    .describe("compensation: the node runs only to undo another node, when the execution fails."),
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

/** A blueprint as written in its file (or in code): optional fields may be left out. */
export type BlueprintDocument = z.input<typeof blueprintSchema>;
/** A blueprint after parsing: defaults applied. */
export type ParsedBlueprintDocument = z.output<typeof blueprintSchema>;
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
