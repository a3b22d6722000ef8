import type { z } from "zod";
import type { NodeDefinition } from "../node/define-node.js";
import { parseLeavesUnchanged, quickValidator } from "./schema-shortcuts.js";

/**
 * Checks a step's inputs, or a node's outputs, against the node type's zod schema of its ports, without parsing
 * what needs no parse.
 *
 * A port's value is taken as it is when parsing could not change it (no transform, default, coercion or
 * refinement its JSON Schema does not show, no keys an object schema would strip) and either it is certainly
 * valid by a quick walk of the schema (schema-shortcuts.ts), or it is an input the host marked `checked`: a
 * value crossing an edge the host's validator proved compatible, from a producer that checked it against its own
 * output schema. Because zod checks a record or an object key by key, building a new object, a chain of nodes
 * passing on a growing object would otherwise pay for the whole object at every port. Every other port is parsed
 * by zod, which also gives the messages of whatever is wrong. A node's outputs are never `checked`: each is
 * checked once, against the node's own output schema (docs/decisions.md, "Port validation").
 */
export interface PortParser {
  /** The values by port as the node sees them, or zod's error; ports in `checked` need no check (inputs only). */
  parse(raw: unknown, checked?: ReadonlySet<string>): ParseResult;
}

type ParseResult = { success: true; data: Record<string, unknown> } | { success: false; error: z.ZodError };

const inputParsers = new WeakMap<NodeDefinition, PortParser>();
const outputParsers = new WeakMap<NodeDefinition, PortParser>();

/** The parser of a node definition's inputs (made once per definition). */
export function inputParserOf(definition: NodeDefinition): PortParser {
  let parser = inputParsers.get(definition);
  if (parser === undefined) {
    parser = createPortParser(definition.inputSchema);
    inputParsers.set(definition, parser);
  }
  return parser;
}

/** The parser of a node definition's outputs (made once per definition). */
export function outputParserOf(definition: NodeDefinition): PortParser {
  let parser = outputParsers.get(definition);
  if (parser === undefined) {
    parser = createPortParser(definition.outputSchema);
    outputParsers.set(definition, parser);
  }
  return parser;
}

/** Creates the {@link PortParser} of a zod object of ports. */
export function createPortParser(schema: z.ZodObject<Record<string, z.ZodType>>): PortParser {
  const shape = schema.shape;
  const ports = Object.keys(shape);
  // Per port: the quick check when parsing it changes nothing, or undefined when zod must always parse it.
  const quick = ports.map((port) =>
    parseLeavesUnchanged(shape[port]!) ? quickValidator(shape[port]!) : undefined,
  );
  const subsets = new Map<string, z.ZodObject<Record<string, z.ZodType>>>();
  const subsetOf = (parsed: string[]) => {
    const key = parsed.join("\u0000");
    let subset = subsets.get(key);
    if (subset === undefined) {
      subset = schema.pick(Object.fromEntries(parsed.map((port) => [port, true])) as Record<string, true>);
      subsets.set(key, subset);
    }
    return subset;
  };
  return {
    parse(raw, checked) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw))
        return schema.safeParse(raw) as ParseResult;
      const values = raw as Record<string, unknown>;
      let parsed: string[] | undefined;
      for (let i = 0; i < ports.length; i++) {
        const port = ports[i]!;
        const check = quick[i];
        const value = values[port];
        const taken =
          check !== undefined && ((value !== undefined && checked?.has(port) === true) || check(value));
        if (!taken) {
          parsed ??= [];
          parsed.push(port);
        }
      }
      if (parsed === undefined) {
        // Every port taken as it is: the common case, no zod call.
        const data: Record<string, unknown> = {};
        for (const port of ports) if (values[port] !== undefined || port in values) data[port] = values[port];
        return { success: true, data };
      }
      const subset: Record<string, unknown> = {};
      for (const port of parsed) if (port in values) subset[port] = values[port];
      const whole = parsed.length === ports.length;
      const result = (whole ? schema : subsetOf(parsed)).safeParse(subset) as ParseResult;
      if (!result.success || whole) return result;
      // Zod's values and the ones taken as they are, in the schema's port order, as zod gives them.
      const data: Record<string, unknown> = {};
      for (const port of ports) {
        if (port in result.data) data[port] = result.data[port];
        else if (port in values && !parsed.includes(port)) data[port] = values[port];
      }
      return { success: true, data };
    },
  };
}
