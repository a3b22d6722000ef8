import { z } from "zod";

/**
 * Makes a node's config schema strict unless the node said otherwise: because a misspelt config key (`methd` for
 * `method`) that a plain `z.object` silently drops leaves the node running on its default, a config object
 * rejects keys it does not declare. Only the top level is made strict: objects nested in it are the node's own
 * (`z.strictObject` for them). A node that wants other keys says so with `z.looseObject` (or `.passthrough()`,
 * `.catchall()`), or `z.object(...).strip()` to drop them quietly; those are kept as they are.
 */
export function strictConfig(schema: z.ZodType): z.ZodType {
  if (!(schema instanceof z.ZodObject)) return schema;
  // A catchall (never for strict, unknown for loose, a schema for catchall) is the node's own choice; a plain
  // z.object has none.
  if (schema._zod.def.catchall !== undefined) return schema;
  return schema.strict();
}

/**
 * The keys a schema declares for the object at `path` of a value (through objects, optional, nullable and default
 * wrappers), for suggesting the one a misspelt key meant; empty when unknown.
 */
export function declaredKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.ZodType | undefined = unwrap(schema);
  for (const key of path) {
    if (current instanceof z.ZodObject) current = unwrap(current.shape[String(key)] as z.ZodType | undefined);
    else if (current instanceof z.ZodArray) current = unwrap(current.element as z.ZodType);
    else if (current instanceof z.ZodRecord) current = unwrap(current._zod.def.valueType as z.ZodType);
    else return [];
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let current = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodNullable ||
    current instanceof z.ZodDefault
  ) {
    current = current._zod.def.innerType as z.ZodType;
  }
  return current;
}

/** `did you mean "x"?` for the candidate closest to a misspelt `key` (a config key, a node id), when one is close; else undefined. */
export function didYouMean(key: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  const close =
    bestDistance <= Math.max(2, Math.floor(key.length / 3)) || best.includes(key) || key.includes(best);
  return close ? `did you mean "${best}"?` : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
