import type { z } from "zod";
import { DESCRIBED_BY_JSON_SCHEMA } from "../node/value-schemas.js";

/**
 * What the sdk may know about a port's zod schema without running it: whether parsing a valid value gives it back
 * unchanged ({@link parseLeavesUnchanged}), and a quick, exact-or-stricter check of a value against it
 * ({@link quickValid}). Because zod parses a record or an object key by key, building a new object and the
 * issues of every key, checking a 100-field object costs it about a microsecond per field; for the schemas whose
 * parse changes nothing, a plain walk that only says "certainly valid" (or "ask zod") costs a fraction of that,
 * and zod still decides every value the walk is not sure of, with its own messages.
 */

/** Checks that the JSON Schema of a port shows, so that a proof against it stands for them. */
const DESCRIBED_CHECKS = new Set([
  "min_length",
  "max_length",
  "length_equals",
  "less_than",
  "greater_than",
  "multiple_of",
  "number_format",
  "string_format",
]);

type Def = Record<string, unknown> & { type: string; checks?: unknown[] };

function defOf(schema: z.ZodType): Def {
  return schema._zod.def as unknown as Def;
}

/**
 * Whether parsing any value valid for `schema` gives that value back unchanged (equal, maybe copied), with no
 * check its JSON Schema does not show. Conservative: false for anything it does not know.
 */
export function parseLeavesUnchanged(schema: z.ZodType, depth = 0): boolean {
  if (depth > 32) return false;
  const def = defOf(schema);
  if (def.coerce === true) return false;
  for (const check of def.checks ?? []) {
    const kind = (check as { _zod?: { def?: { check?: string } } })._zod?.def?.check;
    if (kind === undefined || !DESCRIBED_CHECKS.has(kind)) return false;
  }
  const inner = (key: string) => parseLeavesUnchanged(def[key] as z.ZodType, depth + 1);
  switch (def.type) {
    case "any":
    case "unknown":
    case "string":
    case "number":
    case "boolean":
    case "null":
    case "literal":
    case "enum":
    case "template_literal":
      return true;
    case "custom":
      return def[DESCRIBED_BY_JSON_SCHEMA as unknown as string] === true;
    case "optional":
    case "nullable":
    case "nonoptional":
      return inner("innerType");
    case "array":
      return inner("element");
    case "record":
      return inner("keyType") && inner("valueType");
    case "tuple":
      return (
        (def.items as z.ZodType[]).every((item) => parseLeavesUnchanged(item, depth + 1)) &&
        (def.rest === null || def.rest === undefined || inner("rest"))
      );
    case "union":
      return (def.options as z.ZodType[]).every((option) => parseLeavesUnchanged(option, depth + 1));
    case "intersection":
      return inner("left") && inner("right");
    case "object": {
      // A plain z.object() strips keys it does not list: only a loose or strict object keeps the value whole.
      const catchall = def.catchall as z.ZodType | undefined;
      if (catchall === undefined) return false;
      if (defOf(catchall).type !== "never" && !parseLeavesUnchanged(catchall, depth + 1)) return false;
      const properties = def.shape as Record<string, z.ZodType>;
      return Object.values(properties).every((property) => parseLeavesUnchanged(property, depth + 1));
    }
    default:
      return false;
  }
}

/**
 * True only when `value` is certainly valid for `schema` and parsing it would give it back unchanged; false when
 * it is not, or when this walk does not know (then zod decides). Never true for a value zod would refuse.
 */
export function quickValid(schema: z.ZodType, value: unknown): boolean {
  return quickValidator(schema)(value);
}

/** A value check that is never true for a value zod would refuse or change (see {@link quickValid}). */
export type QuickCheck = (value: unknown) => boolean;

const compiled = new WeakMap<z.ZodType, QuickCheck>();
const never: QuickCheck = () => false;
const always: QuickCheck = () => true;

/**
 * {@link quickValid} made once for a schema into a function, because ports are checked on every run and a
 * function per schema costs less than walking the schema's definition each time.
 */
export function quickValidator(schema: z.ZodType, depth = 0): QuickCheck {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = depth > 32 ? never : compile(schema, depth);
    compiled.set(schema, check);
  }
  return check;
}

function compile(schema: z.ZodType, depth: number): QuickCheck {
  const def = defOf(schema);
  // Checks and coercions are zod's to run.
  if (def.coerce === true || (def.checks !== undefined && def.checks.length > 0)) return never;
  const sub = (key: string) => quickValidator(def[key] as z.ZodType, depth + 1);
  switch (def.type) {
    case "any":
    case "unknown":
      return always;
    case "string":
      return def.format === undefined ? (value) => typeof value === "string" : never;
    case "number":
      return def.format === undefined
        ? (value) => typeof value === "number" && Number.isFinite(value)
        : never;
    case "boolean":
      return (value) => typeof value === "boolean";
    case "null":
      return (value) => value === null;
    case "literal": {
      const allowed = def.values as unknown[];
      return (value) => allowed.includes(value);
    }
    case "enum": {
      const allowed = Object.values(def.entries as Record<string, unknown>);
      return (value) => allowed.includes(value);
    }
    case "optional": {
      const inner = sub("innerType");
      return (value) => value === undefined || inner(value);
    }
    case "nullable": {
      const inner = sub("innerType");
      return (value) => value === null || inner(value);
    }
    case "array": {
      const element = def.element as z.ZodType;
      if (isUnknown(element)) return Array.isArray;
      const item = quickValidator(element, depth + 1);
      return (value) => Array.isArray(value) && value.every(item);
    }
    case "record": {
      if (!isPlainString(def.keyType as z.ZodType)) return never;
      const valueType = def.valueType as z.ZodType;
      if (isUnknown(valueType)) return isPlainObject;
      const entry = quickValidator(valueType, depth + 1);
      return (value) => {
        if (!isPlainObject(value)) return false;
        for (const key in value) if (!entry(value[key])) return false;
        return true;
      };
    }
    case "object": {
      const catchall = def.catchall as z.ZodType | undefined;
      if (catchall === undefined) return never;
      const shape = def.shape as Record<string, z.ZodType>;
      const keys = Object.keys(shape);
      const checks = keys.map((key) => quickValidator(shape[key]!, depth + 1));
      const closed = defOf(catchall).type === "never";
      const rest = closed || isUnknown(catchall) ? undefined : quickValidator(catchall, depth + 1);
      return (value) => {
        if (!isPlainObject(value)) return false;
        for (let i = 0; i < keys.length; i++) if (!checks[i]!(value[keys[i]!])) return false;
        if (closed) {
          for (const key in value) if (!(key in shape)) return false;
        } else if (rest !== undefined) {
          for (const key in value) if (!(key in shape) && !rest(value[key])) return false;
        }
        return true;
      };
    }
    case "union": {
      const options = (def.options as z.ZodType[]).map((option) => quickValidator(option, depth + 1));
      return (value) => options.some((option) => option(value));
    }
    default:
      return never;
  }
}

function isUnknown(schema: z.ZodType): boolean {
  const def = defOf(schema);
  return (
    (def.type === "unknown" || def.type === "any") && (def.checks === undefined || def.checks.length === 0)
  );
}

function isPlainString(schema: z.ZodType): boolean {
  const def = defOf(schema);
  return (
    def.type === "string" && def.format === undefined && (def.checks === undefined || def.checks.length === 0)
  );
}

/** An object zod's records and objects certainly take: a plain object, not an array, a Date or a class instance. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
