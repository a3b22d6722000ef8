/**
 * "Run in this page" for the debugger `conductor serve` and `conductor dev` serve: the blueprint opened from the
 * server runs in the page's own engine (`@conductor/host/browser`, loaded only when asked for: a chunk of its own),
 * with the built-in nodes that need no server. A node the page cannot run (a child-process runtime's, the project's
 * own TypeScript modules on the server, a Node-only built-in such as core.shell) is refused before anything runs,
 * naming the node, its type and its runtime. See docs/browser.md.
 */
import { type BrowserEngine, createBrowserEngine, createMemoryJournal } from "@conductor/host/browser";
import type { Blueprint } from "@conductor/sdk/client";
import { type PageBlueprint, PageRunner } from "./page-runner.js";

/** The opened blueprint, ready to run in the page. */
export interface PageMode {
  engine: BrowserEngine;
  blueprint: PageBlueprint;
  /** The page mode's view, in this module's chunk with the engine (the server mode's page loads neither). */
  PageRunner: typeof PageRunner;
}

/** Thrown when the blueprint has nodes the page cannot run; `lines` names each. */
export class NotRunnableInPage extends Error {
  override readonly name = "NotRunnableInPage";
  constructor(
    message: string,
    readonly lines: string[],
  ) {
    super(message);
  }
}

/** An engine for the blueprint in this page, or {@link NotRunnableInPage} naming each node it cannot run. */
export function pageModeFor(blueprint: Blueprint): PageMode {
  const engine = createBrowserEngine({ journal: createMemoryJournal() });
  const served = new Set(engine.nodeTypes().map((entry) => entry.nodeType.type));
  const lines: string[] = [];
  for (const node of blueprint.graph?.nodes ?? []) {
    if (served.has(node.type) && (node.runtime === "" || node.runtime === "builtin")) continue;
    lines.push(refusal(node.id, node.type, node.runtime));
  }
  if (lines.length > 0) {
    void engine.close();
    throw new NotRunnableInPage(
      `blueprint "${blueprint.id}" cannot run in this page, which runs built-in nodes only: ${lines.length === 1 ? "one node needs" : `${lines.length} nodes need`} the server`,
      lines,
    );
  }
  return {
    engine,
    blueprint: { path: blueprint.path || blueprint.id, text: blueprint.documentJson },
    PageRunner,
  };
}

function refusal(id: string, type: string, runtime: string): string {
  const what = `node "${id}" (type "${type}")`;
  if (runtime === "")
    return `${what}: no runtime of the server serves its type, and the page does not either`;
  if (runtime === "builtin")
    return `${what} runs in runtime "builtin" on the server: the project's TypeScript modules and Node-only built-ins (files, shell) are not in this page`;
  return `${what} runs in runtime "${runtime}", a runtime of the server, which a page cannot start`;
}
