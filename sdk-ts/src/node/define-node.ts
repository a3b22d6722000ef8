import { type ZodType, z } from "zod";
import { strictConfig } from "../runtime/unknown-keys.js";
import type { NodeContext } from "./node-context.js";

/** Flags a node type declares about itself (docs/protocol.md, section 2). */
export interface NodeFlags {
  /** Running twice with the same inputs has the same effect as once (safe to retry after a runtime is lost). */
  idempotent?: boolean;
  /** The node reacts to `ctx.signal`. */
  cancellable?: boolean;
  /** The node emits chunks with `ctx.emit`. */
  streaming?: boolean;
  /** The same config and inputs always give the same outputs, so results may be cached. */
  deterministic?: boolean;
}

type ZodShape = Record<string, ZodType>;

/** The definition of a node type, as given to {@link defineNode}. */
export interface NodeSpec<Input extends ZodShape, Output extends ZodShape, Config extends ZodType> {
  /** Globally unique type name, `<namespace>.<name>`, e.g. "core.http-request". */
  type: string;
  /** Version of the implementation; part of result cache keys, so bump it when behaviour changes. Default "1". */
  version?: string;
  title?: string;
  description?: string;
  /** One entry per input port: the port's name and the zod schema of its values. */
  input?: Input;
  /** One entry per output port. */
  output?: Output;
  /**
   * The schema of the node's config. A `z.object` is made strict (unknown keys are refused, with a did-you-mean);
   * use `z.looseObject` or `.strip()` for a node that accepts other keys.
   */
  config?: Config;
  flags?: NodeFlags;
  /** Default time budget of one attempt in milliseconds. */
  timeoutMs?: number;
  run(
    input: z.output<z.ZodObject<Input>>,
    ctx: NodeContext<z.output<Config>>,
  ): Promise<z.input<z.ZodObject<Output>>> | z.input<z.ZodObject<Output>>;
}

/** A node type ready to be served by a runtime. Create one with {@link defineNode}. */
export interface NodeDefinition {
  readonly kind: "conductor.node";
  readonly type: string;
  readonly version: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: z.ZodObject<ZodShape>;
  readonly outputSchema: z.ZodObject<ZodShape>;
  readonly configSchema: ZodType;
  readonly flags: Required<NodeFlags>;
  readonly timeoutMs: number;
  run(input: Record<string, unknown>, ctx: NodeContext<unknown>): unknown;
}

const TYPE_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;

/**
 * Defines a node type with zod schemas for its inputs, outputs and config. The schemas give the JSON Schemas the
 * host uses to check blueprints before they run, and validate values at run time.
 *
 * @example
 * export const greet = defineNode({
 *   type: "demo.greet",
 *   input: { name: z.string() },
 *   output: { text: z.string() },
 *   config: z.object({ greeting: z.string().default("hello") }),
 *   run: ({ name }, ctx) => ({ text: `${ctx.config.greeting}, ${name}` }),
 * });
 */
export function defineNode<
  Input extends ZodShape = Record<never, never>,
  Output extends ZodShape = Record<never, never>,
  Config extends ZodType = z.ZodObject<Record<never, never>>,
>(spec: NodeSpec<Input, Output, Config>): NodeDefinition {
  if (!TYPE_PATTERN.test(spec.type)) {
    throw new TypeError(
      `node type "${spec.type}" is not a valid type name; expected "<namespace>.<name>" in lowercase, e.g. "core.http-request"`,
    );
  }
  return {
    kind: "conductor.node",
    type: spec.type,
    version: spec.version ?? "1",
    title: spec.title ?? spec.type,
    description: spec.description ?? "",
    inputSchema: z.object(spec.input ?? {}),
    outputSchema: z.object(spec.output ?? {}),
    configSchema: strictConfig(spec.config ?? z.object({})),
    flags: {
      idempotent: spec.flags?.idempotent ?? false,
      cancellable: spec.flags?.cancellable ?? false,
      streaming: spec.flags?.streaming ?? false,
      deterministic: spec.flags?.deterministic ?? false,
    },
    timeoutMs: spec.timeoutMs ?? 0,
    run: spec.run as NodeDefinition["run"],
  };
}

/** Whether a module export is a node definition (used when loading node modules). */
export function isNodeDefinition(value: unknown): value is NodeDefinition {
  return (
    typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "conductor.node"
  );
}
