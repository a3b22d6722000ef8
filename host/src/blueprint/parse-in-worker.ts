import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { ConductorError, type ConductorErrorCode, type Diagnostic } from "../errors.js";
import { hostPackageDir } from "../package-dir.js";
import type { BlueprintLimits } from "./blueprint-limits.js";
import type { LoadedBlueprint } from "./parse-blueprint.js";

/** Options of {@link parseBlueprintInWorker}. */
export interface ParseInWorkerOptions {
  limits?: Partial<BlueprintLimits>;
  /** Most time the parse may take; default 30 s. */
  timeoutMs?: number;
  /** Most heap the worker may use, in MiB; default 512. */
  maxHeapMb?: number;
}

/** Large texts parsed at once, at most: each worker may use up to `maxHeapMb`. */
const MAX_WORKERS = 2;
let running = 0;
const waiting: (() => void)[] = [];

/**
 * Parses blueprint text in a worker thread, for texts large enough that parsing them would hold up the host's event
 * loop (the YAML parser reads about a megabyte in a second or more): other requests go on meanwhile. The worker's
 * heap and time are bounded, so a document that slips past the limits checked before parsing still cannot take
 * the host down; at most {@link MAX_WORKERS} parse at once, the others wait their turn.
 */
export async function parseBlueprintInWorker(
  text: string,
  source: string,
  options: ParseInWorkerOptions = {},
): Promise<LoadedBlueprint> {
  if (running >= MAX_WORKERS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await parseOnce(text, source, options);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

type WorkerAnswer =
  | { ok: true; loaded: LoadedBlueprint }
  | { ok: false; code: ConductorErrorCode; message: string; diagnostics?: Diagnostic[] };

function parseOnce(text: string, source: string, options: ParseInWorkerOptions): Promise<LoadedBlueprint> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxHeapMb = options.maxHeapMb ?? 512;
  const fail = (message: string) =>
    new ConductorError("blueprint_unreadable", `blueprint ${source}: ${message}`, {
      diagnostics: [{ path: "", message }],
    });
  return new Promise((resolve, reject) => {
    // The worker runs the built module (tsc -b), from the build and the CLI bundle alike, because a worker needs a
    // file of its own and the bundle has none for it; the sources' tests run after the build, as npm test does.
    const worker = new Worker(join(hostPackageDir(), "dist", "blueprint", "blueprint-parse-worker.js"), {
      workerData: { text, source, limits: options.limits ?? {} },
      resourceLimits: { maxOldGenerationSizeMb: maxHeapMb },
      stdout: false,
      stderr: false,
    });
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      outcome();
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(fail(`parsing the blueprint took longer than ${timeoutMs} ms; make it smaller or simpler`)),
        ),
      timeoutMs,
    );
    worker.once("message", (answer: WorkerAnswer) =>
      settle(() =>
        answer.ok
          ? resolve(answer.loaded)
          : reject(
              new ConductorError(answer.code, answer.message, { diagnostics: answer.diagnostics ?? [] }),
            ),
      ),
    );
    worker.once("error", (error: Error & { code?: string }) =>
      settle(() =>
        reject(
          error.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? fail(`parsing the blueprint needed more than ${maxHeapMb} MiB; make it smaller or simpler`)
            : fail(`the blueprint could not be parsed: ${error.message}`),
        ),
      ),
    );
    worker.once("exit", (code) =>
      settle(() => reject(fail(`the thread parsing the blueprint stopped (exit code ${code})`))),
    );
  });
}
