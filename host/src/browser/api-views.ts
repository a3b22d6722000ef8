import type { ExecutionEvent as ApiExecutionEvent, Blueprint } from "@conductor/sdk/client";
import { blueprintView } from "../api/blueprint-view.js";
import { toApiEvent } from "../api/event-mapping.js";
import { valuesJsonText } from "../api/value-handles.js";
import { fromData, parseBlueprint } from "../blueprint/parse-blueprint.js";
import type { Diagnostic } from "../errors.js";
import { ConductorError } from "../errors.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import type { BlueprintSource, BrowserEngine } from "./browser-engine.js";

/**
 * `@conductor/host/browser-views`, apart from the engine because only a page that draws with the debugger needs it.
 * The API's views of what a page engine runs, so that a page draws it with the debugger's own components: the
 * blueprint as `GetBlueprint` gives it, and each event as `WatchExecution` sends it. Both are the server's own
 * mappings (api/blueprint-view.ts, api/event-mapping.ts); only values differ: a page has every value at hand, so
 * none becomes a handle to read later (a handle's digest needs Node's crypto), each is a preview in the event.
 */

/** A blueprint as the debugger draws it, with the engine's node types and its validation's diagnostics. */
export async function blueprintViewInPage(
  engine: BrowserEngine,
  blueprint: BlueprintSource,
  path = "<page>",
): Promise<Blueprint> {
  const loaded = typeof blueprint === "string" ? parseBlueprint(blueprint, path) : fromData(blueprint);
  let diagnostics: readonly Diagnostic[] = [];
  try {
    await engine.validate(blueprint);
  } catch (error) {
    if (!(error instanceof ConductorError)) throw error;
    diagnostics = error.diagnostics.length > 0 ? error.diagnostics : [{ path: "", message: error.message }];
  }
  const nodeTypes = engine.nodeTypes().map((entry) => ({ ...entry, language: languageOf(entry.runtime) }));
  return blueprintView(loaded, { path }, nodeTypes, diagnostics);
}

/** An engine event as the API's `WatchExecution` sends it, its values as previews. */
export function apiEventInPage(event: ExecutionEvent): ApiExecutionEvent {
  const values = (map: Record<string, unknown> | undefined) =>
    valuesJsonText(map, "", { preview: true, limit: Number.POSITIVE_INFINITY });
  switch (event.type) {
    case "execution.started": {
      const api = toApiEvent({ ...event, inputs: {} });
      if (api.kind.case === "executionStarted") api.kind.value.inputsJson = values(event.inputs) || "null";
      return api;
    }
    case "node.started": {
      const api = toApiEvent({ ...event, inputs: {} });
      if (api.kind.case === "nodeStarted") api.kind.value.inputsJson = values(event.inputs);
      return api;
    }
    case "node.completed": {
      const api = toApiEvent({ ...event, outputs: {} });
      if (api.kind.case === "nodeCompleted") api.kind.value.outputsJson = values(event.outputs);
      return api;
    }
    case "execution.finished": {
      const api = toApiEvent({ ...event, outputs: {} });
      if (api.kind.case === "executionFinished") api.kind.value.outputsJson = values(event.outputs) || "null";
      return api;
    }
    default:
      return toApiEvent(event);
  }
}

function languageOf(runtime: string): string {
  return runtime === "wasm" ? "wasm" : "typescript";
}
