import { defineNode } from "@conductor/sdk";
import { z } from "zod";
import { portSchemas } from "./port-schemas.js";

/**
 * Gives its input unchanged. Benchmarks chain it to measure the engine's own cost per node, so it stays
 * synchronous and does nothing else.
 */
export const passthrough = defineNode({
  type: "core.passthrough",
  title: "Passthrough",
  description: "Outputs its input value unchanged.",
  input: { value: portSchemas.anyValue().describe("Any value.") },
  output: { value: z.unknown().describe("The input value.") },
  flags: { deterministic: true, idempotent: true },
  run: (input) => ({ value: input.value }),
});
