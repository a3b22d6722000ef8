import type { z } from "zod";

/**
 * A schema issue of a blueprint or project file in words for a person, without zod's "Invalid input:" prefix: an
 * absent required field says "missing", a value of the wrong type says what was expected and what was found,
 * unknown fields are named, a value outside a choice lists the choices. Always starts in lowercase.
 */
export function describeSchemaIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  }
  const wrongType = issue.code === "invalid_type" ? / received (\w+)$/.exec(issue.message) : null;
  if (issue.code === "invalid_type" && wrongType !== null) {
    const expected = aKindOf(issue.expected);
    return wrongType[1] === "undefined"
      ? `missing (expected ${expected})`
      : `expected ${expected}, found ${aKindOf(wrongType[1]!)}`;
  }
  if (issue.code === "invalid_value") {
    const choices = issue.values.map((value) => JSON.stringify(value));
    return choices.length === 1
      ? `expected ${choices[0]}`
      : `expected one of ${choices.slice(0, -1).join(", ")} or ${choices[choices.length - 1]}`;
  }
  const message = issue.message.replace(/^Invalid input: /, "");
  return message.charAt(0).toLowerCase() + message.slice(1);
}

/** "array" → "a list", "object" → "a mapping", "integer" → "an integer", … */
function aKindOf(type: string): string {
  const word = type === "array" ? "list" : type === "object" ? "mapping" : type;
  return `${/^[aeiou]/.test(word) ? "an" : "a"} ${word}`;
}
