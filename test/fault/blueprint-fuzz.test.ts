/**
 * The blueprint fuzzer: valid blueprints of this repository (examples, benchmarks, test fixtures) mutated with
 * YAML tricks (aliases without anchors, alias bombs, anchors and merge keys, tags, huge scalars, deep nesting,
 * duplicate keys, stray bytes, truncation) and sizes (many nodes, long cycles). Whatever comes in, parsing and
 * validation end with a result or a `ConductorError` whose every diagnostic says where (a path, a line, or the
 * blueprint as a whole), in lowercase; nothing else is thrown and nothing hangs past the test's time limit.
 *
 * fast-check drives it with a seed it prints on failure; replay one with `FUZZ_SEED=<seed> npx vitest run
 * test/fault/blueprint-fuzz.test.ts`, and run longer with `FUZZ_RUNS=<n>`.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Conductor,
  ConductorError,
  createConductor,
  type Diagnostic,
  parseBlueprintText,
} from "@conductor/host";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repository = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** A blueprint using every field of the format, so mutations reach each of them. */
const RICH = `conductor: blueprint/v1
id: rich
title: Every field
description: A blueprint that uses every field of the format.
inputs:
  amount: { schema: { type: number }, default: 5, description: How much. }
  items: { schema: { type: array, items: { type: integer } }, required: false }
outputs:
  total: sum.sum
  routed: { from: handler.value, description: "The failure, if any." }
nodes:
  first: { type: core.passthrough, inputs: { value: inputs.amount } }
  sum:
    type: core.add
    inputs: { a: first.value, b: { value: 2 } }
    retry: { maxAttempts: 3, initialDelayMs: 10, backoffCoefficient: 2, maxDelayMs: 100, jitter: false }
    timeoutMs: 5000
    when: "a > 1"
    cache: true
    ui: { x: 10, y: 20, colour: "#fff" }
  each: { type: core.passthrough, map: { over: value, concurrency: 2 }, inputs: { value: inputs.items } }
  risky: { type: core.passthrough, onError: route, compensate: undo, inputs: { value: first.value } }
  handler: { type: core.passthrough, inputs: { value: risky.error } }
  undo: { type: core.passthrough, role: compensation, inputs: { value: first.value } }
ui: { zoom: 1.5 }
`;

const SEEDS: string[] = [
  RICH,
  readFileSync(repository("examples/demo/demo.blueprint.yaml"), "utf8"),
  readFileSync(repository("bench/blueprints/chain10.blueprint.yaml"), "utf8"),
  readFileSync(repository("test/e2e/fixtures/user-node-project/flaky.blueprint.yaml"), "utf8"),
  JSON.stringify({
    conductor: "blueprint/v1",
    nodes: { a: { type: "core.passthrough", inputs: { value: { value: [1, { b: null }] } } } },
  }),
];

type Mutation =
  | { kind: "bytes"; at: number; remove: number; insert: string }
  | { kind: "truncate"; at: number }
  | { kind: "duplicate-line"; at: number }
  | { kind: "unresolved-alias"; at: number }
  | { kind: "anchor-alias"; at: number }
  | { kind: "merge-key"; at: number }
  | { kind: "alias-bomb"; levels: number; width: number }
  | { kind: "tag"; at: number; tag: string }
  | { kind: "huge-scalar"; size: number }
  | { kind: "deep"; depth: number; flow: boolean }
  | { kind: "many-nodes"; count: number; cycle: boolean }
  | { kind: "control"; at: number; text: string }
  | { kind: "json" };

const YAML_CHARACTERS = [..."{}[],:&*!|>-?#%@`'\"\n\t \\x0123456789.<>="];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("bytes" as const),
    at: fc.nat(),
    remove: fc.nat({ max: 12 }),
    insert: fc.array(fc.constantFrom(...YAML_CHARACTERS), { maxLength: 12 }).map((chars) => chars.join("")),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("duplicate-line" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("unresolved-alias" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("anchor-alias" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("merge-key" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("alias-bomb" as const),
    levels: fc.integer({ min: 2, max: 12 }),
    width: fc.integer({ min: 2, max: 12 }),
  }),
  fc.record({
    kind: fc.constant("tag" as const),
    at: fc.nat(),
    tag: fc.constantFrom(
      "!!binary",
      "!!set",
      "!!omap",
      "!!timestamp",
      "!!float",
      "!!int",
      "!!str",
      "!!map",
      "!!seq",
      "!custom",
      "!!js/function",
      "!!python/object/apply:os.system",
      "!<tag:yaml.org,2002:str>",
    ),
  }),
  fc.record({
    kind: fc.constant("huge-scalar" as const),
    size: fc.constantFrom(1_000, 100_000, 1_000_000, 5_000_000),
  }),
  fc.record({
    kind: fc.constant("deep" as const),
    depth: fc.integer({ min: 1, max: 400 }),
    flow: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("many-nodes" as const),
    count: fc.constantFrom(2, 50, 600, 2_000),
    cycle: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("control" as const),
    at: fc.nat(),
    text: fc.constantFrom(
      "\u0000",
      "\uFEFF",
      "\r",
      "\u2028",
      "\u0085",
      "\t\t",
      "\uD800",
      "%YAML 1.1\n---\n",
      "\n---\n",
      "\n...\n",
    ),
  }),
  fc.record({ kind: fc.constant("json" as const) }),
);

/** The offset of the `n`-th (modulo their count) match of `pattern`, or undefined when there is none. */
function nthMatch(text: string, pattern: RegExp, n: number): RegExpExecArray | undefined {
  const matches = [...text.matchAll(pattern)];
  return matches.length === 0 ? undefined : matches[n % matches.length];
}

function apply(text: string, change: Mutation): string {
  switch (change.kind) {
    case "bytes": {
      const at = change.at % (text.length + 1);
      return text.slice(0, at) + change.insert + text.slice(at + change.remove);
    }
    case "truncate":
      return text.slice(0, change.at % (text.length + 1));
    case "duplicate-line": {
      const lines = text.split("\n");
      const at = change.at % lines.length;
      lines.splice(at, 0, lines[at]!);
      return lines.join("\n");
    }
    case "unresolved-alias": {
      const match = nthMatch(text, /: (?=\S)/g, change.at);
      return match === undefined
        ? text
        : `${text.slice(0, match.index + 2)}*missing ${text.slice(match.index + 2)}`;
    }
    case "anchor-alias": {
      const match = nthMatch(text, /: (?=[{\w])/g, change.at);
      if (match === undefined) return text;
      return `${text.slice(0, match.index + 2)}&shared ${text.slice(match.index + 2)}\nui: { copy: *shared }\n`;
    }
    case "merge-key": {
      const match = nthMatch(text, /\n {2}\w+:\n/g, change.at);
      const base = "x-base: &base { type: core.passthrough, inputs: { value: { value: 1 } } }\n";
      return match === undefined
        ? base + text
        : `${base}${text.slice(0, match.index + match[0].length)}    <<: *base\n${text.slice(match.index + match[0].length)}`;
    }
    case "alias-bomb": {
      let bomb = `ui:\n  l0: &l0 [${Array(change.width).fill("x").join(", ")}]\n`;
      for (let level = 1; level < change.levels; level++) {
        bomb += `  l${level}: &l${level} [${Array(change.width)
          .fill(`*l${level - 1}`)
          .join(", ")}]\n`;
      }
      return `${text.replace(/^ui:.*$/m, "")}\n${bomb}`;
    }
    case "tag": {
      const match = nthMatch(text, /: (?=\S)/g, change.at);
      return match === undefined
        ? text
        : `${text.slice(0, match.index + 2)}${change.tag} ${text.slice(match.index + 2)}`;
    }
    case "huge-scalar":
      return `${text.replace(/^description:.*$/m, "")}\ndescription: "${"a".repeat(change.size)}"\n`;
    case "deep": {
      if (change.flow) return `${text}\nx-deep: ${"[".repeat(change.depth)}1${"]".repeat(change.depth)}\n`;
      let deep = "\nx-deep:\n";
      for (let level = 1; level <= change.depth; level++) deep += `${" ".repeat(level)}k:\n`;
      return text + deep;
    }
    case "many-nodes": {
      let nodes = "";
      for (let i = 0; i < change.count; i++) {
        const source =
          i === 0 ? (change.cycle ? `m${change.count - 1}.value` : "{ value: 0 }") : `m${i - 1}.value`;
        nodes += `  m${i}: { type: core.passthrough, inputs: { value: ${source} } }\n`;
      }
      const match = /^nodes:\s*\n/m.exec(text);
      return match === null
        ? text + nodes
        : text.slice(0, match.index + match[0].length) + nodes + text.slice(match.index + match[0].length);
    }
    case "control": {
      const at = change.at % (text.length + 1);
      return text.slice(0, at) + change.text + text.slice(at);
    }
    case "json":
      try {
        return JSON.stringify(JSON.parse(text));
      } catch {
        return `{"conductor": "blueprint/v1", "nodes": ${JSON.stringify(text)}}`;
      }
  }
}

/** Whether a diagnostic says where: a path, a line, or the blueprint as a whole. */
function placed(diagnostic: Diagnostic): boolean {
  return (
    diagnostic.path !== "" ||
    /\(line \d+, column \d+\)/.test(diagnostic.message) ||
    /^the blueprint\b|^alias "/.test(diagnostic.message)
  );
}

function expectExplained(diagnostics: readonly Diagnostic[], text: string): void {
  for (const diagnostic of diagnostics) {
    const shown = `${JSON.stringify(diagnostic)} for a blueprint starting ${JSON.stringify(text.slice(0, 200))}`;
    expect(placed(diagnostic), `a diagnostic without a place: ${shown}`).toBe(true);
    expect(diagnostic.message, `a diagnostic not in lowercase: ${shown}`).toMatch(/^[^A-Z]/);
    expect(diagnostic.message.length, `an empty diagnostic: ${shown}`).toBeGreaterThan(0);
  }
}

describe("the blueprint fuzzer", () => {
  let dir: string;
  let conductor: Conductor;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-fuzz-"));
    conductor = await createConductor({ projectDir: dir });
  });

  afterAll(async () => {
    await conductor?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Parses and validates as a server does: a result, or a ConductorError; nothing else may escape. */
  async function check(text: string): Promise<"valid" | "invalid" | "refused"> {
    let loaded: Awaited<ReturnType<typeof parseBlueprintText>>;
    try {
      loaded = await parseBlueprintText(text, "fuzz.yaml");
    } catch (error) {
      if (!(error instanceof ConductorError)) throw error;
      expect(error.diagnostics.length, error.message).toBeGreaterThan(0);
      expectExplained(error.diagnostics, text);
      return "refused";
    }
    const result = await conductor.validate(loaded);
    expectExplained(result.diagnostics, text);
    return result.valid ? "valid" : "invalid";
  }

  it("accepts every seed as it is, apart from node types this project lacks", async () => {
    const outcomes = await Promise.all(SEEDS.map(check));
    expect(outcomes).toEqual(["valid", "invalid", "valid", "invalid", "valid"]);
  });

  it("never crashes or leaves a problem without its place, whatever the mutation", async () => {
    const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
    const runs = Number(process.env.FUZZ_RUNS ?? 250);
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SEEDS.keys()),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        async (which, changes) => {
          const text = changes.reduce(apply, SEEDS[which]!);
          const outcome = await check(text);
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        },
      ),
      { numRuns: runs, ...(seed === undefined ? {} : { seed }), verbose: 1 },
    );
    // The mutations reach all three ends: some stay valid, some validate with problems, some are refused (in a run
    // long enough that each is all but certain: about one case in five stays valid).
    if (runs >= 100) expect([...outcomes.keys()].sort()).toEqual(["invalid", "refused", "valid"]);
  });
});
