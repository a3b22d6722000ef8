/**
 * Decides whether values described by one JSON Schema (an output port) can flow into a port described by another
 * (an input port), before anything runs. It is deliberately lenient where schemas are open ("any" on either
 * side passes) and strict where they clearly disagree: different encodings (an Arrow table into a string port),
 * disjoint primitive types, or an object lacking a property the target requires.
 */
type Schema = Record<string, unknown>;

const ENCODING = "x-conductor-encoding";

/** Gives a reason when values of `source` cannot be valid for `target`, or undefined when they may be. */
export function incompatibility(source: Schema, target: Schema, depth = 0): string | undefined {
  const sourceEncoding = encodingOf(source);
  const targetEncoding = encodingOf(target);
  if (sourceEncoding !== targetEncoding && !isAny(source) && !isAny(target)) {
    return `expected ${describe(target)}, found ${describe(source)}`;
  }
  if (sourceEncoding !== "json" || isAny(source) || isAny(target) || depth > 4) return undefined;

  const sourceTypes = typesOf(source);
  const targetTypes = typesOf(target);
  if (sourceTypes !== undefined && targetTypes !== undefined) {
    const fits = [...sourceTypes].some(
      (type) => targetTypes.has(type) || (type === "integer" && targetTypes.has("number")),
    );
    if (!fits) return `expected ${describe(target)}, found ${describe(source)}`;
  }
  if (has(sourceTypes, "array") && has(targetTypes, "array")) {
    const sourceItems = source.items;
    const targetItems = target.items;
    if (isSchema(sourceItems) && isSchema(targetItems)) {
      const reason = incompatibility(sourceItems, targetItems, depth + 1);
      if (reason !== undefined) return `array items: ${reason}`;
    }
  }
  if (has(sourceTypes, "object") && has(targetTypes, "object")) {
    const sourceProperties = isSchema(source.properties) ? source.properties : undefined;
    const targetProperties = isSchema(target.properties) ? target.properties : {};
    const required = Array.isArray(target.required) ? (target.required as string[]) : [];
    if (sourceProperties !== undefined && source.additionalProperties === false) {
      for (const name of required) {
        if (!(name in sourceProperties))
          return `expected an object with property "${name}", found ${describe(source)}`;
      }
    }
    if (sourceProperties !== undefined) {
      for (const [name, targetProperty] of Object.entries(targetProperties)) {
        const sourceProperty = sourceProperties[name];
        if (isSchema(sourceProperty) && isSchema(targetProperty)) {
          const reason = incompatibility(sourceProperty, targetProperty, depth + 1);
          if (reason !== undefined) return `property "${name}": ${reason}`;
        }
      }
    }
  }
  return undefined;
}

/** A short human description of a schema, e.g. `string`, `number or null`, `an Arrow table`. */
export function describe(schema: Schema): string {
  const encoding = encodingOf(schema);
  if (encoding === "arrow") return "an Arrow table";
  if (encoding === "raw") return "bytes";
  if (isAny(schema)) return "any value";
  const types = typesOf(schema);
  if (types === undefined) return "a value";
  return [...types].join(" or ");
}

function encodingOf(schema: Schema): string {
  const value = schema[ENCODING];
  return typeof value === "string" ? value : "json";
}

function isAny(schema: Schema): boolean {
  return Object.keys(schema).every((key) => key === "$schema" || key === "description" || key === "title");
}

function typesOf(schema: Schema): Set<string> | undefined {
  if (typeof schema.type === "string") return new Set([schema.type]);
  if (Array.isArray(schema.type)) return new Set(schema.type as string[]);
  if ("const" in schema) return new Set([jsonType(schema.const)]);
  if (Array.isArray(schema.enum)) return new Set((schema.enum as unknown[]).map(jsonType));
  const variants = (schema.anyOf ?? schema.oneOf) as unknown;
  if (Array.isArray(variants)) {
    const union = new Set<string>();
    for (const variant of variants) {
      if (!isSchema(variant)) return undefined;
      const types = typesOf(variant);
      if (types === undefined) return undefined;
      for (const type of types) union.add(type);
    }
    return union;
  }
  return undefined;
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function has(types: Set<string> | undefined, type: string): boolean {
  return types?.has(type) === true;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
