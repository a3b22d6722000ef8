import { defineNode } from "@conductor/sdk";
import { stringifyJson } from "@conductor/sdk/protocol";
import type Mustache from "mustache";
import { z } from "zod";
import { platform } from "#platform";
import { portSchemas } from "./port-schemas.js";

type MustacheModule = typeof Mustache;

let mustache: { module: MustacheModule; writer: Mustache.Writer } | undefined;

/**
 * Loads Mustache on first use, synchronously because config validation (a zod refinement) is synchronous. A writer
 * of our own keeps its parsed-template cache and settings apart from any other user of the library.
 */
function load(): { module: MustacheModule; writer: Mustache.Writer } {
  if (mustache === undefined) {
    const module = platform.loadMustache();
    mustache = { module, writer: new module.Writer() };
  }
  return mustache;
}

/** Strings as they are, anything else as JSON, so `{{address}}` shows the object instead of "[object Object]". */
function toText(value: unknown): string {
  if (typeof value === "string") return value;
  return value === undefined || typeof value === "function" ? String(value) : stringifyJson(value);
}

/**
 * Renders text from a logic-less Mustache template (https://mustache.github.io/mustache.5.html): `{{name}}`,
 * `{{#items}}...{{/items}}`, `{{^items}}none{{/items}}`. The template is parsed when the blueprint is validated, so
 * an unclosed tag is reported before anything runs. Values are not HTML-escaped unless `escapeHtml` is set, because
 * most workflow text is not HTML.
 */
export const template = defineNode({
  type: "core.template",
  title: "Template",
  description: 'Renders a Mustache template with the input "data".',
  config: z.object({
    template: z
      .string()
      .superRefine((text, ctx) => {
        try {
          load().writer.parse(text);
        } catch (error) {
          ctx.addIssue({
            code: "custom",
            input: text,
            message: `mustache syntax error: ${(error as Error).message}`,
          });
        }
      })
      .describe("A Mustache template."),
    escapeHtml: z
      .boolean()
      .default(false)
      .describe("Whether {{value}} is HTML-escaped ({{{value}}} never is)."),
  }),
  input: { data: portSchemas.anyValue().describe("The JSON value the template reads.") },
  output: { text: z.string().describe("The rendered text.") },
  flags: { deterministic: true, idempotent: true },
  run: ({ data }, ctx) => {
    const { module, writer } = load();
    const toOutput = ctx.config.escapeHtml ? (value: unknown) => module.escape(toText(value)) : toText;
    return { text: writer.render(ctx.config.template, data, {}, { escape: toOutput }) };
  },
});
