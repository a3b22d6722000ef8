import type { StepRequest } from "../protocol/invocation.js";

/**
 * Runs a node's code with the trace context of its step current, so that spans the code creates with the
 * OpenTelemetry API nest under the host's span of the node attempt. Installed by {@link installNodeTracing}; until
 * then (and for steps without a traceparent) a node runs with no tracing code on its path. `synchronous`: the
 * node's code has so far always returned a value, never a promise, so the context need only be current while it
 * runs (no AsyncLocalStorage frame, which costs more than a trivial node; docs/telemetry.md, "What it costs").
 */
export type StepTraceRunner = <T>(
  step: StepRequest,
  executionId: string,
  run: () => T,
  synchronous: boolean,
) => T;

let runner: StepTraceRunner | undefined;

/** The installed runner, if any; read once per step by the node runtime. */
export function stepTraceRunner(): StepTraceRunner | undefined {
  return runner;
}

/** Installs (or with `undefined` removes) the runner that puts a step's trace context around its node's code. */
export function setStepTraceRunner(next: StepTraceRunner | undefined): void {
  runner = next;
}
