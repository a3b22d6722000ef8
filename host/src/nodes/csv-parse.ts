import { defineNode, NodeFailure } from "@conductor/sdk";
import type { CastingContext } from "csv-parse/sync";
import { z } from "zod";

/** Decimal numbers without a leading zero ("007" stays text: zip codes, ids), with optional fraction and exponent. */
const NUMBER = /^[+-]?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * Casts an unquoted field: numbers and booleans become numbers and booleans; everything else, quoted fields, header
 * names and empty fields stay text. An integer beyond 2^53 - 1 becomes a bigint, because a number would lose
 * digits: it travels as a JSON number with every digit (docs/decisions.md, "Integers beyond 2^53"), so an int64 id
 * column reads as numbers in every row, not as numbers in some and text in others.
 */
function castField(value: string, context: CastingContext): unknown {
  if (context.header || context.quoting || value === "") return value;
  const lower = value.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  if (!NUMBER.test(value)) return value;
  const number = Number(value);
  if (INTEGER.test(value) && !Number.isSafeInteger(number)) return BigInt(value);
  return number;
}

/** A csv-parse error: the library's code and the line it stopped at. */
interface CsvError {
  code?: string;
  lines?: number;
  message: string;
}

/**
 * Parses CSV text into rows: objects keyed by the header's column names, or arrays of fields without a header.
 * Quoted fields, escaped quotes ("") and line breaks inside quotes follow RFC 4180; a byte order mark and empty
 * lines are skipped. A record with more or fewer fields than the header fails the node, naming the line.
 */
export const csvParse = defineNode({
  type: "core.csv-parse",
  title: "Parse CSV",
  description: "Parses CSV text into rows, casting numbers and booleans.",
  config: z.object({
    delimiter: z.string().min(1).default(",").describe('The field delimiter, e.g. "," or ";" or "\\t".'),
    header: z
      .boolean()
      .default(true)
      .describe("Whether the first line names the columns; rows are objects when true, arrays when false."),
    cast: z
      .boolean()
      .default(true)
      .describe("Whether unquoted numbers and booleans (true/false) become numbers and booleans."),
  }),
  input: { text: z.string().describe("The CSV text.") },
  output: {
    rows: z
      .array(z.unknown())
      .describe("One object per record keyed by column name, or one array of fields when header is false."),
    columns: z.array(z.string()).describe("The column names from the header; empty when header is false."),
    count: z.number().int().describe("How many rows there are."),
  },
  flags: { deterministic: true, idempotent: true },
  run: async ({ text }, ctx) => {
    const { parse } = await import("csv-parse/sync");
    const { delimiter, header, cast } = ctx.config;
    let columns: string[] = [];
    let rows: unknown[];
    try {
      rows = parse(text, {
        delimiter,
        bom: true,
        skip_empty_lines: true,
        ...(cast ? { cast: castField } : {}),
        ...(header
          ? {
              columns: (names: string[]) => {
                const duplicate = names.find((name, index) => names.indexOf(name) !== index);
                if (duplicate !== undefined) {
                  throw new NodeFailure(
                    `csv header names column "${duplicate}" twice, expected unique names`,
                    {
                      type: "csv.duplicate-column",
                      details: { column: duplicate, columns: names },
                    },
                  );
                }
                columns = names;
                return names;
              },
            }
          : {}),
      }) as unknown[];
    } catch (error) {
      if (error instanceof NodeFailure) throw error;
      const { code, lines, message } = error as CsvError;
      // csv-parse's messages start with a capitalised title ("Invalid Record Length: ..."); keep only the reason.
      const reason = message.replace(/^[A-Z][A-Za-z ]*: /, "");
      throw new NodeFailure(`csv text does not parse: ${reason}`, {
        type: "csv.invalid",
        details: { code, line: lines },
      });
    }
    return { rows, columns, count: rows.length };
  },
});
