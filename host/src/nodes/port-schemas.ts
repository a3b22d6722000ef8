import { z } from "zod";

/**
 * zod schemas for ports of the core nodes that take more than one kind of value. Their JSON Schema is open ("any
 * value"), because the host checks connected ports statically and a union of JSON and bytes would make it refuse
 * an edge from a bytes port; the values are still checked strictly when the node runs.
 */
export const portSchemas = {
  /** Any value (JSON, bytes or a table) that must be present, so the host reports an unconnected port. */
  anyValue: () =>
    z.unknown().refine((value) => value !== undefined, { message: "expected a value, found nothing" }),
  /** A string or bytes (a `Uint8Array`). */
  textOrBytes: () =>
    z.custom<string | Uint8Array>((value) => typeof value === "string" || value instanceof Uint8Array, {
      message: "expected a string or bytes (a Uint8Array)",
    }),
};
