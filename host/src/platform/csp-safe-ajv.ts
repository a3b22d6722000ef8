import { type Schema, Validator } from "@cfworker/json-schema";
import type { Ajv2020Class } from "./platform.js";

/** Keywords whose errors only summarise their subschemas' (reported on their own). */
const SUMMARIES = new Set(["properties", "items", "prefixItems", "allOf", "$ref", "additionalItems"]);

/** An Ajv-shaped validator class over @cfworker/json-schema, which interprets schemas instead of compiling them. */
class InterpretingAjv {
  compile(schema: Schema) {
    const validator = new Validator(schema, "2020-12", false);
    const validate = (value: unknown): boolean => {
      const result = validator.validate(value);
      validate.errors = result.valid
        ? null
        : result.errors
            .filter((unit) => !SUMMARIES.has(unit.keyword))
            .map((unit) => ({ instancePath: unit.instanceLocation.replace(/^#/, ""), message: unit.error }));
      return result.valid;
    };
    validate.errors = null as { instancePath: string; message: string }[] | null;
    return validate;
  }
}

/** Whether the page may compile code from text (a Content-Security-Policy without 'unsafe-eval' forbids it). */
function evalAllowed(): boolean {
  try {
    new Function("");
    return true;
  } catch {
    return false;
  }
}

/**
 * Ajv's class where the page allows it (Ajv compiles each schema to a function: the same validation and the same
 * messages as in the host), else a validator that interprets schemas, because a page whose Content-Security-Policy
 * forbids 'unsafe-eval' (the debugger `conductor serve` serves) refuses Ajv's compiled code.
 */
export function ajvForThisPage(ajv: Ajv2020Class): Ajv2020Class {
  return evalAllowed() ? ajv : (InterpretingAjv as unknown as Ajv2020Class);
}
