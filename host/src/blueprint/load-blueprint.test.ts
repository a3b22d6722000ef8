import { describe, expect, it } from "vitest";
import { ConductorError } from "../errors.js";
import { DEFAULT_BLUEPRINT_LIMITS } from "./blueprint-limits.js";
import { OFF_THREAD_CHARS, parseBlueprint, parseBlueprintText } from "./load-blueprint.js";

/** The diagnostics of the error `parse` throws; fails the test when it throws none or another kind. */
function problems(parse: () => unknown): { code: string; diagnostics: { path: string; message: string }[] } {
  try {
    parse();
  } catch (error) {
    if (!(error instanceof ConductorError)) throw error;
    return {
      code: error.code,
      diagnostics: error.diagnostics.map(({ path, message }) => ({ path, message })),
    };
  }
  throw new Error("expected the blueprint to be refused");
}

const header = "conductor: blueprint/v1\n";

describe("parseBlueprint()", () => {
  it("refuses a text over the byte limit before parsing it, naming the limit and the size", () => {
    const text = `${header}nodes: {}\ndescription: "${"é".repeat(600)}"\n`;
    expect(problems(() => parseBlueprint(text, "big.yaml", { maxBytes: 1000 }))).toEqual({
      code: "blueprint_unreadable",
      diagnostics: [
        {
          path: "",
          message: `the blueprint is ${Buffer.byteLength(text)} bytes, more than the limit of 1000 bytes; split it into sub-blueprints, or pass large values as inputs`,
        },
      ],
    });
  });

  it("refuses flow nesting past the depth limit with its line and column, without building the document", () => {
    const text = `${header}nodes: {}\nui: { a: ${"[".repeat(100_000)}${"]".repeat(100_000)} }\n`;
    expect(problems(() => parseBlueprint(text)).diagnostics).toEqual([
      {
        path: "",
        message:
          "the blueprint nests deeper than 64 levels (mappings and lists inside each other); flatten it (line 3, column 72)",
      },
    ]);
  });

  it("refuses block nesting past the depth limit, counted from indentation", () => {
    const lines = [header.trim(), "nodes: {}", "ui:"];
    for (let level = 1; level <= 70; level++) lines.push(`${" ".repeat(level)}k${level}:`);
    const { diagnostics } = problems(() => parseBlueprint(lines.join("\n")));
    expect(diagnostics[0]!.message).toMatch(
      /^the blueprint nests deeper than 64 levels .*\(line 67, column 65\)$/,
    );
  });

  it("counts compact nested lists as levels", () => {
    const text = `${header}nodes: {}\nui:\n  x: ${"- ".repeat(80)}leaf\n`;
    expect(problems(() => parseBlueprint(text)).diagnostics[0]!.message).toMatch(
      /nests deeper than 64 levels/,
    );
  });

  it("accepts nesting within the limit", () => {
    const deep = `${"[".repeat(40)}1${"]".repeat(40)}`;
    const loaded = parseBlueprint(`${header}nodes:\n  a:\n    type: t\n    config:\n      x: ${deep}\n`);
    let value: unknown = loaded.document.nodes.a!.config!.x;
    let depth = 0;
    while (Array.isArray(value)) {
      value = value[0];
      depth++;
    }
    expect([depth, value]).toEqual([40, 1]);
  });

  it("names an alias without an anchor, with its line", () => {
    expect(problems(() => parseBlueprint(`${header}nodes:\n  a: *nope\n`))).toEqual({
      code: "blueprint_unreadable",
      diagnostics: [
        { path: "", message: 'alias "*nope" (line 3, column 6) names no anchor "&nope" defined before it' },
      ],
    });
  });

  it("refuses an alias bomb, naming the limit", () => {
    let text = `${header}nodes: {}\nui:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n`;
    for (let i = 1; i < 9; i++)
      text += `  l${i}: &l${i} [${Array(10)
        .fill(`*l${i - 1}`)
        .join(", ")}]\n`;
    expect(problems(() => parseBlueprint(text)).diagnostics).toEqual([
      {
        path: "",
        message: `the blueprint expands aliases (*name) more than the limit of ${DEFAULT_BLUEPRINT_LIMITS.maxAliasCount} allows (each alias counts the values it repeats); write the values out, or use fewer aliases`,
      },
    ]);
  });

  it("keeps anchors and aliases that stay within the limit", () => {
    const loaded = parseBlueprint(
      `${header}nodes:\n  a: { type: t, config: &shared { url: "http://x" } }\n  b: { type: t, config: *shared }\n`,
    );
    expect(loaded.document.nodes.b!.config).toEqual({ url: "http://x" });
  });

  it("refuses more nodes than the limit, at the path nodes", () => {
    const nodes = Array.from({ length: 11 }, (_, i) => `  n${i}: { type: t }`).join("\n");
    expect(
      problems(() => parseBlueprint(`${header}nodes:\n${nodes}\n`, "many.yaml", { maxNodes: 10 })),
    ).toEqual({
      code: "blueprint_invalid",
      diagnostics: [{ path: "nodes", message: "11 nodes, more than the limit of 10" }],
    });
  });

  it("finds duplicate keys among 10,000 and reports them in the order of the text", () => {
    const nodes = Array.from({ length: 10_000 }, (_, i) => `  n${i}: { type: t }`);
    nodes.push("  n5: { type: t }", "  n7: { type: t, config: { a: 1, a: 2 } }");
    const { diagnostics } = problems(() => parseBlueprint(`${header}nodes:\n${nodes.join("\n")}\n`));
    expect(diagnostics.map((d) => d.message)).toEqual([
      'duplicate key "n5" (line 10003, column 3): every node id, port and field may appear once',
      'duplicate key "n7" (line 10004, column 3): every node id, port and field may appear once',
      'duplicate key "a" (line 10004, column 34): every node id, port and field may appear once',
    ]);
  });

  it("says what a blueprint is when the document is not a mapping", () => {
    expect(problems(() => parseBlueprint("just a sentence")).diagnostics).toEqual([
      {
        path: "",
        message: 'the blueprint must be a mapping with "conductor: blueprint/v1" and "nodes", found a string',
      },
    ]);
  });

  it("names a key that is not an identifier instead of zod's 'Invalid key in record'", () => {
    expect(problems(() => parseBlueprint(`${header}nodes:\n  "a b": { type: t }\n`)).diagnostics).toEqual([
      {
        path: "nodes.a b",
        message:
          'node id "a b" is not an identifier: expected letters, digits, _ and -, starting with a letter or _',
      },
    ]);
  });

  it("lists the accepted forms of a binding instead of zod's 'Invalid input'", () => {
    const { diagnostics } = problems(() =>
      parseBlueprint(`${header}outputs: { o: 5 }\nnodes:\n  a: { type: t, inputs: { v: { from: 1 } } }\n`),
    );
    expect(diagnostics).toEqual([
      {
        path: "outputs.o",
        message:
          'expected "<node>.<port>", "inputs.<name>" or { from: "<node>.<port>", description: … }, found a number (5)',
      },
      {
        path: "nodes.a.inputs.v",
        message:
          'expected a binding: "<node>.<port>", "inputs.<name>", { from: "<node>.<port>" } or { value: <a literal> }, found a mapping with key "from"',
      },
    ]);
  });
});

describe("parseBlueprintText()", () => {
  const large = (extra: string) =>
    `${header}${extra}nodes:\n${Array.from({ length: Math.ceil(OFF_THREAD_CHARS / 20) }, (_, i) => `  n${i}: { type: t }`).join("\n")}\n`;

  it("parses a large text in a worker thread to the same blueprint", async () => {
    const text = large("");
    expect(text.length).toBeGreaterThan(OFF_THREAD_CHARS);
    expect(await parseBlueprintText(text, "large.yaml")).toEqual(parseBlueprint(text, "large.yaml"));
  });

  it("keeps the event loop free while a large text is parsed", async () => {
    const events: string[] = [];
    const parsing = parseBlueprintText(large("")).then(() => events.push("parsed"));
    setImmediate(() => events.push("other work"));
    await parsing;
    expect(events).toEqual(["other work", "parsed"]);
  });

  it("brings the worker's errors back with their code and diagnostics", async () => {
    const error = await parseBlueprintText(large("id: 'not an id'\n")).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConductorError);
    expect((error as ConductorError).code).toBe("blueprint_invalid");
    expect((error as ConductorError).diagnostics).toEqual([
      { path: "id", message: "expected an identifier (letters, digits, _ and -)" },
    ]);
  });

  it("refuses a text over the byte limit without starting a worker", async () => {
    await expect(parseBlueprintText(large(""), "x.yaml", { maxBytes: OFF_THREAD_CHARS })).rejects.toThrow(
      /^blueprint x\.yaml: the blueprint is \d+ bytes, more than the limit of 65536 bytes/,
    );
  });
});
