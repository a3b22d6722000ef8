import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Gives back to the system the heap that start-up or a burst of load grew and no longer uses. Loading the API, the
 * runtimes' clients and the node types grows V8's young generation to its full size, and a burst of requests grows
 * the old generation far beyond what stays live (150 MB for 20 MB live after 16,000 requests from 32 clients). V8
 * keeps that memory resident until a memory-reducing collection, which Node never asks for on its own. One such
 * collection lowers an idle server's resident memory by about 18 MB after start and by about 200 MB after such a
 * burst; the heap grows back as soon as load needs it.
 */
export function releaseMemory(): void {
  // `gc` is exposed to contexts created after the flag is set; the main context and its globals stay unchanged.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (options: { type: string; execution: string; flavor: string }) => void;
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
}

/** How busy the event loop was since the previous call, from 0 to 1. */
export type LoopBusyness = () => number;

/** The event loop's utilization since the previous call (Node's `performance.eventLoopUtilization`). */
export function eventLoopBusyness(): LoopBusyness {
  let previous = performance.eventLoopUtilization();
  return () => {
    const current = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(current, previous).utilization;
    previous = current;
    return busy;
  };
}

/**
 * Calls {@link releaseMemory} once each time the process turns idle: the first check after a busy period at which the
 * event loop was busy less than 1% of the interval. Never while serving (the collection pauses the loop for a few
 * milliseconds). Returns a function that stops watching. `busyness` is for tests, which script it.
 */
export function releaseMemoryWhenIdle(
  intervalMs = 10_000,
  release: () => void = releaseMemory,
  busyness: LoopBusyness = eventLoopBusyness(),
): () => void {
  let released = true;
  const timer = setInterval(() => {
    if (busyness() > 0.01) released = false;
    else if (!released) {
      released = true;
      release();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
