import type { Table } from "apache-arrow";
import { z } from "zod";
import { isArrowTable } from "../protocol/arrow.js";
import { ENCODING_KEYWORD } from "../protocol/constants.js";

/**
 * zod schemas for port values that are not JSON. Their JSON Schema carries `x-conductor-encoding`, so the host
 * can tell that a port holding a table is not connected to one expecting a string.
 */
export const values = {
  /** Raw bytes, a `Uint8Array`. */
  bytes: () =>
    describedByJsonSchema(
      z
        .custom<Uint8Array>((value) => value instanceof Uint8Array, {
          message: "expected bytes (a Uint8Array)",
        })
        .meta({ type: "string", contentEncoding: "binary", [ENCODING_KEYWORD]: "raw" }),
    ),
  /**
   * An integer of any size: a `number` up to 2^53 - 1 (`Number.MAX_SAFE_INTEGER`), a `bigint` beyond, with every
   * digit the sender wrote. Use it for ids and counters that may outgrow a JavaScript number; `z.number()` refuses
   * a bigint rather than round it.
   */
  integer: () =>
    describedByJsonSchema(
      z
        .custom<number | bigint>(
          (value) => typeof value === "bigint" || (typeof value === "number" && Number.isInteger(value)),
          { message: "expected an integer" },
        )
        .meta({ type: "integer" }),
    ),
  /** An Arrow table, an apache-arrow `Table`. */
  table: () =>
    describedByJsonSchema(
      z
        .custom<Table>((value) => isArrowTable(value), {
          message: "expected an Arrow table (apache-arrow Table)",
        })
        .meta({ type: "object", [ENCODING_KEYWORD]: "arrow" }),
    ),
};

/** Converts a zod schema to the JSON Schema (2020-12) text the ABI carries. */
export function toJsonSchemaText(schema: z.ZodType, io: "input" | "output" = "output"): string {
  const json = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    // Custom schemas (bytes, tables) carry their JSON Schema in their metadata, merged in by zod.
    unrepresentable: "any",
  });
  return JSON.stringify(json);
}

/**
 * A schema the sdk made whose JSON Schema says all its check does (`values.bytes()`, `values.table()`,
 * `values.integer()`), so a value the host proved against that JSON Schema passes the check too. Registered, so
 * two copies of the sdk agree.
 */
export const DESCRIBED_BY_JSON_SCHEMA = Symbol.for("conductor.described-by-json-schema");

/**
 * Marks a custom schema as fully described by its JSON Schema (see {@link DESCRIBED_BY_JSON_SCHEMA}). The mark is
 * an enumerable property of the schema's definition, because zod copies the definition (with it) into the clone
 * that `.describe()`, `.meta()` and the like return.
 */
export function describedByJsonSchema<T extends z.ZodType>(schema: T): T {
  (schema._zod.def as unknown as Record<symbol, unknown>)[DESCRIBED_BY_JSON_SCHEMA] = true;
  return schema;
}
