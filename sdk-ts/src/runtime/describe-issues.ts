import type { z } from "zod";

/**
 * Turns zod issues into one lowercase sentence per issue that names the field, what was expected and what was
 * found, e.g. `input "count": expected number, found string "three"`.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], what: string, value: unknown): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    const where = path === "" ? what : `${what} "${path}"`;
    const at = valueAt(value, issue.path);
    const found = describeFound(at);
    const message = issue.message.replace(/^Invalid input: /, "").replace(/, received [a-zA-Z]+$/, "");
    // Because JSON integers beyond 2^53 - 1 arrive as bigint (a number would change them), say how to take one.
    const hint =
      typeof at === "bigint" && issue.code === "invalid_type"
        ? " (an integer beyond 2^53 - 1, which a number cannot hold exactly; the node should declare it with values.integer())"
        : "";
    return `${where}: ${lowercaseFirst(message)}${found === undefined ? "" : `, found ${found}`}${hint}`;
  });
}

/** The dotted paths of the issues, for diagnostics. */
export function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path.map(String).join(".");
}

/** The value at a path inside a value, or undefined. */
export function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Describes a value briefly for an error message: its kind and, when short, the value itself. */
export function describeFound(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return "null";
  if (value instanceof Uint8Array) return `bytes (${value.byteLength})`;
  if (Array.isArray(value)) return `array (${value.length} items)`;
  switch (typeof value) {
    case "string":
      return value.length <= 40 ? `string ${JSON.stringify(value)}` : `string (${value.length} chars)`;
    case "number":
    case "boolean":
    case "bigint":
      return `${typeof value} ${String(value)}`;
    case "object":
      return value.constructor?.name === "Table" ? "an Arrow table" : "object";
    default:
      return typeof value;
  }
}

function lowercaseFirst(text: string): string {
  return text.length > 0 ? text[0]!.toLowerCase() + text.slice(1) : text;
}
