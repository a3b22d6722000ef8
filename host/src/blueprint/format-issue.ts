import type { z } from "zod";
import type { Diagnostic } from "../errors.js";
import { describeSchemaIssue } from "../schema-issue.js";

/**
 * A problem of the blueprint file format (a zod issue) as a diagnostic a person can act on. zod's own words for a
 * record key or a union ("Invalid key in record", "Invalid input") say neither what is wrong nor what would be
 * right, so those name the key or the binding and list the accepted forms; a document that is not a mapping at all
 * says what a blueprint looks like.
 */
export function describeFormatIssue(issue: z.core.$ZodIssue, data: unknown): Diagnostic {
  const path = issue.path.map(String).join(".");
  return { path, message: formatMessage(issue, data) };
}

function formatMessage(issue: z.core.$ZodIssue, data: unknown): string {
  const at = issue.path;
  if (at.length === 0 && issue.code === "invalid_type") {
    return `the blueprint must be a mapping with "conductor: blueprint/v1" and "nodes", found ${kindOf(data)}`;
  }
  if (issue.code === "invalid_value" && at[0] === "conductor" && at.length === 1) {
    return "expected conductor: blueprint/v1 (the format version) at the top of the file";
  }
  if (issue.code === "unrecognized_keys" && at.length === 0) {
    const keys = issue.keys.map((key) => `"${key}"`).join(", ");
    return `the blueprint has ${issue.keys.length === 1 ? "an unknown field" : "unknown fields"} ${keys} at its top; its fields are ${TOP_LEVEL_FIELDS}`;
  }
  if (issue.code === "invalid_key") {
    const key = String(at[at.length - 1]);
    return `${nameKind(at)} "${key}" is not an identifier: expected letters, digits, _ and -, starting with a letter or _`;
  }
  if (issue.code === "invalid_union") {
    const found = kindOf(valueAt(data, at));
    if (at.length === 4 && at[0] === "nodes" && at[2] === "inputs") {
      return `expected a binding: "<node>.<port>", "inputs.<name>", { from: "<node>.<port>" } or { value: <a literal> }, found ${found}`;
    }
    if (at.length === 2 && at[0] === "outputs") {
      return `expected "<node>.<port>", "inputs.<name>" or { from: "<node>.<port>", description: … }, found ${found}`;
    }
    return `expected one of the accepted forms, found ${found}`;
  }
  return describeSchemaIssue(issue);
}

const TOP_LEVEL_FIELDS = "conductor, id, title, description, inputs, outputs, nodes and ui";

function nameKind(path: readonly PropertyKey[]): string {
  if (path.length === 2 && path[0] === "nodes") return "node id";
  if (path.length === 2 && path[0] === "inputs") return "blueprint input name";
  if (path.length === 2 && path[0] === "outputs") return "blueprint output name";
  if (path.length === 4 && path[0] === "nodes" && path[2] === "inputs") return "input port name";
  return "name";
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** What a value is, in words: `a string`, `a list`, `a mapping with keys "from", "to"`. */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return "nothing (null)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") {
    const keys = Object.keys(value);
    const shown = keys
      .slice(0, 5)
      .map((key) => `"${key}"`)
      .join(", ");
    return keys.length === 0
      ? "an empty mapping"
      : `a mapping with key${keys.length === 1 ? "" : "s"} ${shown}${keys.length > 5 ? ", …" : ""}`;
  }
  return typeof value === "number" || typeof value === "boolean" || typeof value === "bigint"
    ? `a ${typeof value} (${String(value)})`
    : `a ${typeof value}`;
}
