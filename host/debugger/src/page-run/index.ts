/**
 * The debugger's "run in this page" mode, for a page that brings its own engine (`@conductor/host/browser`): its
 * TypeScript nodes are bundled into it and its WebAssembly modules fetched when it loads, and from then on the
 * blueprints run, show their progress and resume after a reload without any server. See docs/webassembly.md.
 */
import { h, render } from "preact";
import { PageRunner, type PageRunnerProps } from "./page-runner.js";
import "../styles.css";

export { type PageBlueprint, PageRunner, type PageRunnerProps } from "./page-runner.js";

/** Draws the debugger's page mode into `element`. */
export function mountPageRunner(element: Element, props: PageRunnerProps): void {
  render(h(PageRunner, props), element);
}

/**
 * Fetches a Web Worker's script once, now, and gives a `createWorker` for `createBrowserWasmRuntime` that starts
 * workers from that copy: because a worker is started at a node's first call and again after a time limit stops
 * one, a worker started from its URL would ask the server for its script in the middle of a run.
 */
export async function preloadWorker(url: string): Promise<() => Worker> {
  const response = await fetch(url);
  if (!response.ok)
    throw new Error(`the wasm worker script ${url} could not be fetched: HTTP ${response.status}`);
  const blobUrl = URL.createObjectURL(new Blob([await response.text()], { type: "text/javascript" }));
  return () => new Worker(blobUrl, { type: "module" });
}
