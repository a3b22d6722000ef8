/** Options of {@link createCrashLoopBreaker}. */
export interface CrashLoopBreakerOptions {
  /** The breaker opens at this many crashes and failed starts (see {@link CrashLoopBreaker}). Default 5. */
  maxCrashes?: number;
  /** Crashes older than this are forgotten. Default 60 s. */
  crashWindowMs?: number;
  /** How long an open breaker waits before it lets one start through (half-open). Default 30 s. */
  coolDownMs?: number;
  /** Each failed half-open start doubles the cool-down, up to this. Default 5 min. */
  maxCoolDownMs?: number;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** What to do after a crash or a failed start: restart after a delay, or open (stop restarting for a while). */
export type RestartDecision =
  | { kind: "restart"; delayMs: number }
  | { kind: "open"; reason: string; retryInMs: number };

/**
 * The restart policy of a supervised runtime: exponential backoff between restarts, and a crash-loop breaker that
 * stops restarting a runtime that keeps failing, then, after a cool-down, lets one start through (half-open): if it
 * starts, the runtime is back; if not, the breaker opens again for twice as long. Use one per runtime.
 *
 * A crash (the runtime died or was killed after it had started) counts within `crashWindowMs`; a failed start (no
 * handshake line within the start timeout, an exit before it, a bad handshake) counts until a start succeeds,
 * however long it took, because each one may take a whole start timeout: counted by the window only, a runtime
 * that never prints its handshake line would be restarted for ever.
 */
export interface CrashLoopBreaker {
  /** The runtime crashed after it had started. */
  crashed(why: string): RestartDecision;
  /** A start failed. */
  startFailed(why: string): RestartDecision;
  /** A start succeeded: failed starts are forgotten, and so is the cool-down's growth. */
  started(): void;
  /** Opens the breaker at once (a first start that failed: retrying at once would fail the same way). */
  open(why: string): RestartDecision & { kind: "open" };
  /** The cool-down passed: the next start is the half-open try. */
  halfOpen(): void;
  /** How many times the runtime was restarted (successful starts after the first). */
  readonly restarts: number;
}

/** Creates the restart policy of one runtime; see {@link CrashLoopBreaker}. */
export function createCrashLoopBreaker(options: CrashLoopBreakerOptions = {}): CrashLoopBreaker {
  const maxCrashes = options.maxCrashes ?? 5;
  const windowMs = options.crashWindowMs ?? 60_000;
  const baseCoolDownMs = options.coolDownMs ?? 30_000;
  const maxCoolDownMs = options.maxCoolDownMs ?? 300_000;
  const now = options.now ?? Date.now;
  const crashes: number[] = [];
  let failedStarts = 0;
  let coolDownMs = baseCoolDownMs;
  let halfOpen = false;
  let starts = 0;
  let restarts = 0;

  const inWindow = (): number => {
    const at = now();
    while (crashes.length > 0 && at - crashes[0]! > windowMs) crashes.shift();
    return crashes.length;
  };
  const open = (reason: string): RestartDecision & { kind: "open" } => {
    const retryInMs = coolDownMs;
    coolDownMs = Math.min(maxCoolDownMs, coolDownMs * 2);
    halfOpen = false;
    crashes.length = 0;
    return { kind: "open", reason, retryInMs };
  };
  const decide = (why: string): RestartDecision => {
    const crashed = inWindow();
    const count = crashed + failedStarts;
    if (count < maxCrashes) return { kind: "restart", delayMs: Math.min(5_000, 100 * 2 ** (count - 1)) };
    const parts = [
      ...(crashed > 0
        ? [`it crashed ${crashed} time${crashed === 1 ? "" : "s"} within ${seconds(windowMs)}`]
        : []),
      ...(failedStarts > 0 ? [`${failedStarts} start${failedStarts === 1 ? "" : "s"} failed in a row`] : []),
    ];
    return open(`${parts.join(" and ")} (last: ${why})`);
  };

  return {
    crashed(why) {
      crashes.push(now());
      return decide(why);
    },
    startFailed(why) {
      failedStarts++;
      if (halfOpen) return open(`it still does not start after a cool-down (${why})`);
      return decide(why);
    },
    started() {
      if (starts > 0) restarts++;
      starts++;
      failedStarts = 0;
      halfOpen = false;
      coolDownMs = baseCoolDownMs;
    },
    open(why) {
      return open(why);
    },
    halfOpen() {
      halfOpen = true;
    },
    get restarts() {
      return restarts;
    },
  };
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
