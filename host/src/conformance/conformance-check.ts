import type { ProgramUnderTest } from "./program-under-test.js";
import type { RuntimeFixture } from "./runtime-fixture.js";

/**
 * One check of the conformance kit: an id (stable, for `--only` and machines), a sentence saying what a conforming
 * runtime does, and the code that proves it. A check throws {@link CheckFailure} with what it expected and what it
 * found; anything else it throws counts as a failure too, with the error's message as what was found.
 */
export interface ConformanceCheck {
  /** Stable id, `<group>.<name>`, e.g. `cancel.during-step`. */
  id: string;
  /** What a conforming runtime does, e.g. "a Cancel during a step ends it with cancelled". */
  title: string;
  /** A feature of docs/protocol.md §1.3 the check needs; without it the check is skipped. */
  feature?: string;
  run(context: CheckContext): Promise<void>;
}

/** What a check can use. */
export interface CheckContext {
  /**
   * The shared runtime: started once with the environment of docs/protocol.md §1.1, connected, and reused by every
   * check that does not need a process of its own. Started again if an earlier check ended it.
   */
  shared(): Promise<RuntimeFixture>;
  /** Starts a process of its own (stopped after the check), with variables left out or overridden. */
  launch(variant?: LaunchVariant): Promise<ProgramUnderTest>;
  /** Starts a process of its own and connects to it (stopped after the check). */
  connect(variant?: LaunchVariant): Promise<RuntimeFixture>;
  /** How long to wait for something the runtime should do at once (an event, an exit), in ms. */
  readonly patienceMs: number;
}

/** How a check's own process differs from the standard launch. */
export interface LaunchVariant {
  /** Environment variables of docs/protocol.md §1.1 to leave out. */
  omit?: readonly string[];
  /** Environment variables to set differently. */
  override?: Readonly<Record<string, string>>;
  /** Called with the socket directory before the program starts (to leave a stale socket there, say). */
  prepare?: (socketDir: string) => Promise<void>;
}

/** The outcome of one check. */
export interface CheckResult {
  id: string;
  title: string;
  status: "passed" | "failed" | "skipped";
  /** For a failure: what a conforming runtime does. */
  expected?: string;
  /** For a failure: what this runtime did. For a skip: why. */
  found?: string;
  /** Wall time of the check, for the report only. */
  durationMs: number;
}

/** Thrown by a check that found the runtime not conforming. */
export class CheckFailure extends Error {
  override readonly name = "CheckFailure";

  constructor(
    readonly expected: string,
    readonly found: string,
  ) {
    super(`expected ${expected}; found ${found}`);
  }
}

/** Fails the check unless `condition` holds. */
export function expectThat(condition: boolean, expected: string, found: () => string): asserts condition {
  if (!condition) throw new CheckFailure(expected, found());
}

/** Fails the check unless `found` equals `expected` (compared as JSON text). */
export function expectEqual(found: unknown, expected: unknown, what: string): void {
  const want = show(expected);
  const got = show(found);
  if (want !== got) throw new CheckFailure(`${what} ${want}`, got);
}

/** A short JSON-ish rendering of a value for a report line. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value instanceof Uint8Array) {
    const head = [...value.subarray(0, 8)].join(",");
    return `${value.byteLength} bytes [${head}${value.byteLength > 8 ? ",…" : ""}]`;
  }
  const text = JSON.stringify(value, (_key, inner: unknown) =>
    typeof inner === "bigint" ? `${inner}n` : inner,
  );
  return text === undefined ? String(value) : text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
