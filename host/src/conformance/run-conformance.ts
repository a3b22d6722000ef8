import { cancelChecks } from "./checks/cancel-checks.js";
import { concurrencyChecks } from "./checks/concurrency-checks.js";
import { discoveryChecks } from "./checks/discovery-checks.js";
import { executeChecks } from "./checks/execute-checks.js";
import { lifecycleChecks } from "./checks/lifecycle-checks.js";
import { startChecks } from "./checks/start-checks.js";
import { streamChecks } from "./checks/stream-checks.js";
import { valueChecks } from "./checks/value-checks.js";
import { wireChecks } from "./checks/wire-checks.js";
import {
  type CheckContext,
  CheckFailure,
  type CheckResult,
  type ConformanceCheck,
  type LaunchVariant,
} from "./conformance-check.js";
import { type ProgramOptions, type ProgramUnderTest, startProgram } from "./program-under-test.js";
import { describeError, openRuntimeFixture, type RuntimeFixture } from "./runtime-fixture.js";

/** Every check of the kit, in the order it runs them (docs/conformance.md lists them). */
export const conformanceChecks: readonly ConformanceCheck[] = [
  ...startChecks,
  ...discoveryChecks,
  ...executeChecks,
  ...valueChecks,
  ...concurrencyChecks,
  ...cancelChecks,
  ...wireChecks,
  ...lifecycleChecks,
  ...streamChecks,
];

/** Options of {@link runConformance}. */
export interface ConformanceOptions extends ProgramOptions {
  /** Run only the checks whose id equals or starts with one of these (e.g. `cancel.`, `values.blob-out`). */
  only?: readonly string[];
  /** Called with each result as soon as it is known (the CLI prints it). */
  onResult?: (result: CheckResult) => void;
  /** How long a runtime may take to print its handshake line. Default 20000 ms. */
  startTimeoutMs?: number;
  /** How long to wait for something a runtime should do at once (an event, an exit). Default 10000 ms. */
  patienceMs?: number;
}

/** What {@link runConformance} found. */
export interface ConformanceReport {
  /** What the runtime said of itself in its Handshake, when it got that far. */
  runtime?: { name: string; language: string; version: string; features: string[]; maxConcurrency: number };
  results: CheckResult[];
  passed: number;
  failed: number;
  skipped: number;
  /** True when no check failed. */
  ok: boolean;
}

/**
 * Runs the conformance kit against a runtime program: starts it the way the host does and drives it directly over
 * the ABI (docs/protocol.md), one check at a time. Use it to prove that a runtime in any language conforms, from
 * code (a test of your runtime) or through `conductor conformance -- <command…>`. Every process it starts is
 * stopped, and every directory it creates removed, before it returns.
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const startMs = options.startTimeoutMs ?? 20_000;
  const patienceMs = options.patienceMs ?? 10_000;
  const selected = conformanceChecks.filter(
    (check) =>
      options.only === undefined ||
      options.only.length === 0 ||
      options.only.some((prefix) => check.id === prefix || check.id.startsWith(prefix)),
  );

  let shared: RuntimeFixture | undefined;
  let sharedFailure: CheckFailure | undefined;
  const sharedFixture = async (): Promise<RuntimeFixture> => {
    if (sharedFailure !== undefined) throw sharedFailure;
    if (shared !== undefined && (await shared.program.waitForExit(0)) === undefined) return shared;
    // Started again when an earlier check ended it (that check failed already).
    await shared?.stop();
    shared = undefined;
    const program = await startProgram(options);
    try {
      shared = await openRuntimeFixture(program, startMs);
    } catch (error) {
      await program.stop();
      sharedFailure =
        error instanceof CheckFailure
          ? error
          : new CheckFailure("a runtime that starts and answers Handshake", describeError(error));
      throw sharedFailure;
    }
    return shared;
  };

  const results: CheckResult[] = [];
  let runtime: ConformanceReport["runtime"];
  try {
    for (const check of selected) {
      const started = performance.now();
      const owned: { stop(): Promise<void> }[] = [];
      const context: CheckContext = {
        shared: sharedFixture,
        launch: async (variant?: LaunchVariant) => {
          const program: ProgramUnderTest = await startProgram(options, variant);
          owned.push(program);
          return program;
        },
        connect: async (variant?: LaunchVariant) => {
          const program = await startProgram(options, variant);
          owned.push(program);
          const fixture = await openRuntimeFixture(program, startMs);
          owned.push(fixture);
          return fixture;
        },
        patienceMs,
      };
      let result: CheckResult;
      try {
        const skip =
          check.feature === undefined ? undefined : await missingFeature(sharedFixture, check.feature);
        if (skip !== undefined) {
          result = { id: check.id, title: check.title, status: "skipped", found: skip, durationMs: 0 };
        } else {
          await withBound(check.run(context), startMs + patienceMs * 4);
          result = { id: check.id, title: check.title, status: "passed", durationMs: 0 };
        }
      } catch (error) {
        result = {
          id: check.id,
          title: check.title,
          status: "failed",
          expected: error instanceof CheckFailure ? error.expected : "no error",
          found: error instanceof CheckFailure ? error.found : describeError(error),
          durationMs: 0,
        };
      } finally {
        for (const resource of owned.reverse()) await resource.stop().catch(() => {});
      }
      result.durationMs = Math.round(performance.now() - started);
      if (runtime === undefined && shared !== undefined) {
        const handshake = shared.handshake;
        runtime = {
          name: handshake.runtime?.name ?? "",
          language: handshake.runtime?.language ?? "",
          version: handshake.runtime?.version ?? "",
          features: [...handshake.features],
          maxConcurrency: handshake.maxConcurrency,
        };
      }
      results.push(result);
      options.onResult?.(result);
    }
  } finally {
    await shared?.stop();
  }
  const count = (status: CheckResult["status"]) =>
    results.filter((result) => result.status === status).length;
  const failed = count("failed");
  return {
    ...(runtime === undefined ? {} : { runtime }),
    results,
    passed: count("passed"),
    failed,
    skipped: count("skipped"),
    ok: failed === 0,
  };
}

/** Why a check needing `feature` is skipped, or undefined when the runtime announces it. */
async function missingFeature(
  fixture: () => Promise<RuntimeFixture>,
  feature: string,
): Promise<string | undefined> {
  const shared = await fixture();
  return shared.has(feature) ? undefined : `the runtime does not announce "${feature}" in its Handshake`;
}

/** Fails a check that does not finish in time, so that one hanging runtime cannot hang the kit. */
function withBound(work: Promise<void>, boundMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<void>((_, reject) => {
      timer = setTimeout(
        () => reject(new CheckFailure(`the check to finish within ${boundMs} ms`, "it did not")),
        boundMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}
