/**
 * Decides whether values described by one JSON Schema (an output port) can flow into a port described by another
 * (an input port), before anything runs. {@link incompatibility} is deliberately lenient where schemas are open
 * ("any" on either side passes) and strict where they clearly disagree: encodings with nothing in common (an Arrow
 * table into a string port), disjoint primitive types, or an object lacking a property the target requires.
 * {@link provablyAccepts} is its strict counterpart: true only when every value of the source is certainly valid
 * for the target, which lets the runtime skip checking such values again (docs/decisions.md, "Port validation").
 *
 * A port's encoding is the `x-conductor-encoding` marker of its schema (`raw`, `arrow`; JSON without one), also
 * inside `anyOf` / `oneOf`: a port taking "bytes or a string" admits both `raw` and `json`.
 */
type Schema = Record<string, unknown>;

const ENCODING = "x-conductor-encoding";

/** Gives a reason when values of `source` cannot be valid for `target`, or undefined when they may be. */
export function incompatibility(source: Schema, target: Schema, depth = 0): string | undefined {
  const sourceEncodings = encodingsOf(source);
  const targetEncodings = encodingsOf(target);
  if (sourceEncodings !== "any" && targetEncodings !== "any") {
    if (![...sourceEncodings].some((encoding) => targetEncodings.has(encoding))) {
      return `expected ${describe(target)}, found ${describe(source)}`;
    }
    // Only the JSON values of both sides have more to compare.
    if (!sourceEncodings.has("json") || !targetEncodings.has("json")) return undefined;
  }
  const from = jsonPart(source);
  const to = jsonPart(target);
  if (isAny(from) || isAny(to) || depth > 4) return undefined;

  const sourceTypes = typesOf(from);
  const targetTypes = typesOf(to);
  if (sourceTypes !== undefined && targetTypes !== undefined) {
    const fits = [...sourceTypes].some(
      (type) => targetTypes.has(type) || (type === "integer" && targetTypes.has("number")),
    );
    if (!fits) return `expected ${describe(target)}, found ${describe(source)}`;
  }
  if (has(sourceTypes, "array") && has(targetTypes, "array")) {
    const sourceItems = from.items;
    const targetItems = to.items;
    if (isSchema(sourceItems) && isSchema(targetItems)) {
      const reason = incompatibility(sourceItems, targetItems, depth + 1);
      if (reason !== undefined) return `array items: ${reason}`;
    }
  }
  if (has(sourceTypes, "object") && has(targetTypes, "object")) {
    const sourceProperties = isSchema(from.properties) ? from.properties : undefined;
    const targetProperties = isSchema(to.properties) ? to.properties : {};
    const required = Array.isArray(to.required) ? (to.required as string[]) : [];
    if (sourceProperties !== undefined && from.additionalProperties === false) {
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

/**
 * Why a runtime cannot take the values of `source`, or undefined when it can (or its features are not known): an
 * Arrow table, when the runtime did not announce `values.arrow`. Only a source that gives nothing but tables is
 * refused here; a value that may or may not be a table is checked when it is sent (docs/protocol.md, section 1.3).
 */
export function unannouncedFeature(
  source: Schema,
  runtime: string,
  features: readonly string[] | undefined,
): string | undefined {
  if (features === undefined || features.includes("values.arrow")) return undefined;
  const encodings = encodingsOf(source);
  if (encodings === "any" || encodings.size !== 1 || !encodings.has("arrow")) return undefined;
  return `runtime "${runtime}" did not announce "values.arrow" in its handshake and cannot read an Arrow table; convert the table to JSON or bytes before this node, or serve the node from a runtime that reads Arrow`;
}

/** A short human description of a schema, e.g. `string`, `number or null`, `an Arrow table`, `bytes or string`. */
export function describe(schema: Schema): string {
  const encoding = schema[ENCODING];
  if (encoding === "arrow") return "an Arrow table";
  if (encoding === "raw") return "bytes";
  if (isAny(schema)) return "any value";
  const variants = variantsOf(schema);
  if (variants?.some((variant) => typeof variant[ENCODING] === "string")) {
    const described = [...new Set(variants.map(describe))];
    if (!described.includes("a value")) return described.join(" or ");
  }
  const types = typesOf(schema);
  if (types === undefined) return "a value";
  return [...types].join(" or ");
}

/**
 * The encodings a port's schema admits (`json`, `raw`, `arrow`), or "any" for a schema that says nothing. A
 * variant of `anyOf` / `oneOf` that says nothing makes the whole schema "any".
 */
export function encodingsOf(schema: Schema): ReadonlySet<string> | "any" {
  const marker = schema[ENCODING];
  if (typeof marker === "string") return new Set([marker]);
  if (isAny(schema)) return "any";
  const variants = variantsOf(schema);
  if (variants === undefined) return JSON_ONLY;
  const union = new Set<string>();
  for (const variant of variants) {
    const encodings = encodingsOf(variant);
    if (encodings === "any") return "any";
    for (const encoding of encodings) union.add(encoding);
  }
  return union;
}

const JSON_ONLY: ReadonlySet<string> = new Set(["json"]);

/** The schema of the JSON values a schema admits: a union without its non-JSON variants. */
function jsonPart(schema: Schema): Schema {
  const variants = variantsOf(schema);
  if (variants === undefined || !variants.some((variant) => typeof variant[ENCODING] === "string"))
    return schema;
  const json = variants.filter((variant) => typeof variant[ENCODING] !== "string");
  const key = Array.isArray(schema.anyOf) ? "anyOf" : "oneOf";
  return json.length === 1 ? json[0]! : { ...schema, [key]: json };
}

function variantsOf(schema: Schema): Schema[] | undefined {
  const variants = (schema.anyOf ?? schema.oneOf) as unknown;
  return Array.isArray(variants) && variants.every(isSchema) ? (variants as Schema[]) : undefined;
}

function isAny(schema: Schema): boolean {
  return Object.keys(schema).every((key) => ANNOTATIONS.has(key));
}

function typesOf(schema: Schema): Set<string> | undefined {
  if (typeof schema.type === "string") return new Set([schema.type]);
  if (Array.isArray(schema.type)) return new Set(schema.type as string[]);
  if ("const" in schema) return new Set([jsonType(schema.const)]);
  if (Array.isArray(schema.enum)) return new Set((schema.enum as unknown[]).map(jsonType));
  const variants = variantsOf(schema);
  if (variants !== undefined) {
    const union = new Set<string>();
    for (const variant of variants) {
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
  if (typeof value === "bigint") return "integer";
  return typeof value;
}

function has(types: Set<string> | undefined, type: string): boolean {
  return types?.has(type) === true;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ------------------------------------------------------------------ proof of acceptance

/** Keywords that describe a schema without constraining its values. */
const ANNOTATIONS = new Set([
  "$schema",
  "$id",
  "$comment",
  "title",
  "description",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
  "contentEncoding",
  "contentMediaType",
]);

/**
 * Whether every value valid under `source` is certainly valid under `target` (JSON Schema 2020-12). Sound and
 * incomplete: true only when it can show it, false when it cannot (a keyword of the target it does not know, a
 * `$ref`, a pattern it would have to compare). Ignoring a keyword of the source is always sound (it only widens
 * what the source may give); a keyword of the target is never ignored unless it is an annotation.
 */
export function provablyAccepts(source: Schema, target: Schema, depth = 0): boolean {
  if (depth > 16) return false;
  if (isAny(target)) return true;
  if (sameSchema(source, target)) return true;
  // A source union: every variant must be accepted (its outer keywords may be ignored: that only widens it).
  const sourceVariants = variantsOf(source);
  if (sourceVariants !== undefined && !("type" in source) && !("properties" in source)) {
    return sourceVariants.every((variant) => provablyAccepts(variant, target, depth + 1));
  }
  // A target union (anyOf): the source must fit one variant whole.
  if (Array.isArray(target.anyOf)) {
    const rest = withoutKeys(target, ["anyOf"]);
    return (
      (isAny(rest) || provablyAccepts(source, rest, depth + 1)) &&
      (target.anyOf as unknown[]).some(
        (variant) => isSchema(variant) && provablyAccepts(source, variant, depth + 1),
      )
    );
  }

  if (source[ENCODING] !== target[ENCODING]) return false;
  if (typeof target[ENCODING] === "string") {
    // Bytes and tables carry no JSON keywords worth comparing; the marker (and a declared type) must match.
    return Object.keys(target).every((key) => ANNOTATIONS.has(key) || key === ENCODING || key === "type");
  }
  if (typeof source[ENCODING] === "string") return false;

  for (const key of Object.keys(target)) {
    if (ANNOTATIONS.has(key) || KNOWN_KEYWORDS.has(key)) continue;
    // A reference means what the document around it says, which two port schemas do not share.
    if (key.startsWith("$")) return false;
    // A keyword this proof does not know: only an identical one in the source shows it holds.
    if (!(key in source) || !sameValue(source[key], target[key])) return false;
  }

  // Types: every type the source admits must be one the target admits.
  const targetTypes = typesOf(withoutKeys(target, ["enum", "const"]));
  const sourceTypes = typesOf(source);
  if (targetTypes !== undefined) {
    if (sourceTypes === undefined) return false;
    for (const type of sourceTypes) {
      if (!targetTypes.has(type) && !(type === "integer" && targetTypes.has("number"))) return false;
    }
  }
  if ("const" in target || Array.isArray(target.enum)) {
    const allowed = "const" in target ? [target.const] : (target.enum as unknown[]);
    const given =
      "const" in source
        ? [source.const]
        : Array.isArray(source.enum)
          ? (source.enum as unknown[])
          : undefined;
    if (
      given === undefined ||
      !given.every((value) => allowed.some((candidate) => sameValue(value, candidate)))
    )
      return false;
  }
  if (!boundsHold(source, target)) return false;

  const objects = sourceTypes === undefined || sourceTypes.has("object");
  if (objects && !objectAccepted(source, target, depth)) return false;
  const arrays = sourceTypes === undefined || sourceTypes.has("array");
  if (arrays && !arrayAccepted(source, target, depth)) return false;
  return true;
}

/** Target keywords {@link provablyAccepts} reasons about itself. */
const KNOWN_KEYWORDS = new Set([
  ENCODING,
  "type",
  "const",
  "enum",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
]);

function objectAccepted(source: Schema, target: Schema, depth: number): boolean {
  const targetProperties = isSchema(target.properties) ? target.properties : {};
  const sourceProperties = isSchema(source.properties) ? source.properties : {};
  // Because names matching `patternProperties` are allowed even when additionalProperties is false, a source with
  // patterns is taken as open.
  const patterns = "patternProperties" in source;
  const sourceClosed = source.additionalProperties === false && !patterns;
  const sourceExtra =
    isSchema(source.additionalProperties) && !patterns ? source.additionalProperties : undefined;
  // What the source may hold under a name it does not list: nothing, a schema, or anything.
  const undeclared = (): Schema | false | undefined => (sourceClosed ? false : sourceExtra);

  const required = new Set(Array.isArray(source.required) ? (source.required as string[]) : []);
  for (const name of Array.isArray(target.required) ? (target.required as string[]) : []) {
    if (!required.has(name)) return false;
  }
  for (const [name, targetProperty] of Object.entries(targetProperties)) {
    if (!isSchema(targetProperty)) return false;
    const sourceProperty = sourceProperties[name];
    if (isSchema(sourceProperty)) {
      if (!provablyAccepts(sourceProperty, targetProperty, depth + 1)) return false;
    } else {
      const other = undeclared();
      if (other === false) continue;
      if (!provablyAccepts(other ?? {}, targetProperty, depth + 1)) return false;
    }
  }
  if ("additionalProperties" in target) {
    const extra = target.additionalProperties;
    if (extra === false || isSchema(extra)) {
      for (const [name, sourceProperty] of Object.entries(sourceProperties)) {
        if (name in targetProperties) continue;
        if (
          extra === false ||
          !isSchema(sourceProperty) ||
          !provablyAccepts(sourceProperty, extra, depth + 1)
        )
          return false;
      }
      const other = undeclared();
      if (other !== false && (extra === false || !provablyAccepts(other ?? {}, extra, depth + 1)))
        return false;
    } else if (extra !== true) return false;
  }
  if ("propertyNames" in target) {
    // Every JSON object key is a string; anything more must be shown by the same constraint in the source.
    const names = target.propertyNames;
    const stringOnly =
      isSchema(names) && Object.keys(names).every((key) => key === "type") && names.type === "string";
    if (!stringOnly && !sameValue(source.propertyNames, names)) return false;
  }
  return true;
}

function arrayAccepted(source: Schema, target: Schema, depth: number): boolean {
  if (!("items" in target)) return true;
  const items = target.items;
  if (!isSchema(items)) return items === true;
  if (Array.isArray(source.prefixItems)) {
    for (const item of source.prefixItems as unknown[]) {
      if (!isSchema(item) || !provablyAccepts(item, items, depth + 1)) return false;
    }
  }
  return provablyAccepts(isSchema(source.items) ? source.items : {}, items, depth + 1);
}

/** Numeric bounds of the target hold for every number the source admits. */
function boundsHold(source: Schema, target: Schema): boolean {
  const lower = (schema: Schema): [number, boolean] | undefined =>
    typeof schema.exclusiveMinimum === "number"
      ? [schema.exclusiveMinimum, true]
      : typeof schema.minimum === "number"
        ? [schema.minimum, false]
        : undefined;
  const upper = (schema: Schema): [number, boolean] | undefined =>
    typeof schema.exclusiveMaximum === "number"
      ? [schema.exclusiveMaximum, true]
      : typeof schema.maximum === "number"
        ? [schema.maximum, false]
        : undefined;
  const targetLower = lower(target);
  if (targetLower !== undefined) {
    const sourceLower = lower(source);
    if (sourceLower === undefined) return false;
    if (
      sourceLower[0] < targetLower[0] ||
      (sourceLower[0] === targetLower[0] && targetLower[1] && !sourceLower[1])
    )
      return false;
  }
  const targetUpper = upper(target);
  if (targetUpper !== undefined) {
    const sourceUpper = upper(source);
    if (sourceUpper === undefined) return false;
    if (
      sourceUpper[0] > targetUpper[0] ||
      (sourceUpper[0] === targetUpper[0] && targetUpper[1] && !sourceUpper[1])
    )
      return false;
  }
  return true;
}

function withoutKeys(schema: Schema, keys: readonly string[]): Schema {
  const copy: Schema = {};
  for (const key in schema) if (!keys.includes(key)) copy[key] = schema[key];
  return copy;
}

/** The same constraints (annotations aside), with no `$ref` whose meaning depends on where the schema sits. */
function sameSchema(source: Schema, target: Schema): boolean {
  const text = (schema: Schema) => JSON.stringify(withoutKeys(schema, [...ANNOTATIONS]));
  const a = text(source);
  return !a.includes('"$ref"') && !a.includes('"$dynamicRef"') && a === text(target);
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
