import type { InvocationSink } from "@conductor/sdk/protocol";

/** A sink that keeps what it is given until {@link HeldSink.release} (then passes it on) or discard. */
export interface HeldSink {
  readonly sink: InvocationSink;
  /** Passes on, in order, every event kept so far, and every later one at once. */
  release(): void;
  /** Drops every event kept so far and every later one. */
  discard(): void;
}

/**
 * Holds a running invocation's events on a worker until it knows whether they may leave: a pure job (every node
 * deterministic) runs while its start claim is in flight, and nothing of it reaches the scheduler before the claim
 * answered (docs/distributed.md, "Failure semantics"). Because a node must never be reported twice, its events
 * are passed on only when this delivery holds the claim, and dropped otherwise.
 */
export function holdSink(target: InvocationSink): HeldSink {
  let kept: ((sink: InvocationSink) => void)[] | undefined = [];
  let open = false;
  const call = (event: (sink: InvocationSink) => void) => {
    if (open) event(target);
    else kept?.push(event);
  };
  const sink: InvocationSink = {
    started: (step) => call((to) => to.started(step)),
    log: (step, level, message, fields) => call((to) => to.log(step, level, message, fields)),
    progress: (step, fraction, message) => call((to) => to.progress(step, fraction, message)),
    chunk: (step, port, value) => call((to) => to.chunk(step, port, value)),
    heartbeat: (step, details) => call((to) => to.heartbeat(step, details)),
    completed: (step, outputs, durationUs) => call((to) => to.completed(step, outputs, durationUs)),
    failed: (step, failure, durationUs) => call((to) => to.failed(step, failure, durationUs)),
    cancelled: (step, reason) => call((to) => to.cancelled(step, reason)),
    rejected: (failure) => call((to) => to.rejected(failure)),
    ...(target.credit === undefined
      ? {}
      : {
          credit: (step: number, port: string, credits: number) =>
            call((to) => to.credit?.(step, port, credits)),
        }),
    ...(target.checkpoint === undefined
      ? {}
      : {
          checkpoint: (step: number, port: string, state: unknown) =>
            call((to) => to.checkpoint?.(step, port, state)),
        }),
  };
  return {
    sink,
    release: () => {
      if (kept === undefined) return;
      const events = kept;
      kept = undefined;
      open = true;
      for (const event of events) event(target);
    },
    discard: () => {
      kept = undefined;
    },
  };
}
