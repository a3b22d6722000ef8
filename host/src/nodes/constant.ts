import { defineNode } from "@conductor/sdk";
import { z } from "zod";

/** Gives the JSON value of its config: a fixed input for a blueprint, a test or a benchmark. */
export const constant = defineNode({
  type: "core.constant",
  title: "Constant",
  description: "Outputs the JSON value given in its config.",
  config: z.object({ value: z.json().describe("The value to output.") }),
  output: { value: z.unknown().describe("The config's value.") },
  flags: { deterministic: true, idempotent: true },
  run: (_input, ctx) => ({ value: ctx.config.value }),
});
