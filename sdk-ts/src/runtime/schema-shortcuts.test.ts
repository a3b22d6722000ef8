import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { values } from "../node/value-schemas.js";
import { parseLeavesUnchanged, quickValid } from "./schema-shortcuts.js";

/** Schemas of every kind the walk knows, and some it must leave to zod. */
const schemas: Record<string, z.ZodType> = {
  unknown: z.unknown(),
  string: z.string(),
  email: z.email(),
  number: z.number(),
  int: z.number().int(),
  boolean: z.boolean(),
  null: z.null(),
  literal: z.literal("a"),
  enum: z.enum(["a", "b"]),
  optionalString: z.string().optional(),
  nullableNumber: z.number().nullable(),
  strings: z.array(z.string()),
  anything: z.array(z.unknown()),
  record: z.record(z.string(), z.unknown()),
  numbers: z.record(z.string(), z.number()),
  loose: z.looseObject({ a: z.string(), b: z.number().optional() }),
  strict: z.strictObject({ a: z.string() }),
  stripping: z.object({ a: z.string() }),
  union: z.union([z.string(), z.array(z.number())]),
  nested: z.looseObject({ items: z.array(z.looseObject({ id: z.string() })) }),
  defaults: z.looseObject({ a: z.string().default("x") }),
  refined: z.string().refine((text) => text.length > 2),
  bytes: values.bytes(),
};

const value = fc.oneof(
  fc.jsonValue(),
  fc.anything(),
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    new Date(0),
    new Uint8Array([1]),
    undefined,
    "a",
    "b",
  ),
  fc.record({ a: fc.string(), b: fc.oneof(fc.double(), fc.constant(undefined)) }),
  fc.record({ items: fc.array(fc.record({ id: fc.oneof(fc.string(), fc.integer()) })) }),
);

describe("quickValid()", () => {
  it("never calls valid a value zod refuses, or one zod would change", () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(schemas)), value, (name, candidate) => {
        const schema = schemas[name]!;
        if (!quickValid(schema, candidate)) return;
        const parsed = schema.safeParse(candidate);
        expect(parsed.success, name).toBe(true);
        expect(parsed.data, name).toEqual(candidate);
      }),
      { numRuns: 5000 },
    );
  });

  it("shows common valid values valid without zod", () => {
    expect(quickValid(schemas.record!, { a: 1, b: [2] })).toBe(true);
    expect(quickValid(schemas.loose!, { a: "x", extra: true })).toBe(true);
    expect(quickValid(schemas.nested!, { items: [{ id: "1" }, { id: "2", more: 1 }] })).toBe(true);
    expect(quickValid(schemas.strict!, { a: "x", extra: true })).toBe(false);
    expect(quickValid(schemas.stripping!, { a: "x" })).toBe(false);
    expect(quickValid(schemas.int!, 1)).toBe(false);
  });
});

describe("parseLeavesUnchanged()", () => {
  it("is true only for schemas whose parse gives a valid value back as it was", () => {
    const unchanged = Object.entries(schemas)
      .filter(([, schema]) => parseLeavesUnchanged(schema))
      .map(([name]) => name);
    expect(unchanged).toEqual([
      "unknown",
      "string",
      "email",
      "number",
      "int",
      "boolean",
      "null",
      "literal",
      "enum",
      "optionalString",
      "nullableNumber",
      "strings",
      "anything",
      "record",
      "numbers",
      "loose",
      "strict",
      "union",
      "nested",
      "bytes",
    ]);
  });
});
