import { parentPort, workerData } from "node:worker_threads";
import { ConductorError } from "../errors.js";
import type { BlueprintLimits } from "./blueprint-limits.js";
import { parseBlueprint } from "./parse-blueprint.js";

/**
 * The worker thread of `parseBlueprintInWorker`: parses one blueprint text and posts back the loaded blueprint or
 * the error, as plain data. Started from its built file (`dist/blueprint/blueprint-parse-worker.js`).
 */
const { text, source, limits } = workerData as {
  text: string;
  source: string;
  limits: Partial<BlueprintLimits>;
};
try {
  parentPort!.postMessage({ ok: true, loaded: parseBlueprint(text, source, limits) });
} catch (error) {
  parentPort!.postMessage(
    error instanceof ConductorError
      ? { ok: false, code: error.code, message: error.message, diagnostics: error.diagnostics }
      : {
          ok: false,
          code: "blueprint_unreadable",
          message: `blueprint ${source} cannot be read: ${String(error)}`,
        },
  );
}
