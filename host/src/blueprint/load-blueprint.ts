import { open } from "node:fs/promises";
import { ConductorError } from "../errors.js";
import { type BlueprintLimits, DEFAULT_BLUEPRINT_LIMITS } from "./blueprint-limits.js";
import { type LoadedBlueprint, parseBlueprint, tooLarge } from "./parse-blueprint.js";
import { parseBlueprintInWorker } from "./parse-in-worker.js";

// Reading blueprint files and parsing large texts in a worker thread: the Node host's part. Parsing itself
// (parse-blueprint.ts) is the core's, and runs in pages too.
export { fromData, type LoadedBlueprint, parseBlueprint } from "./parse-blueprint.js";

/**
 * Reads a blueprint from a `.yaml`, `.yml` or `.json` file. A file larger than the byte limit is refused from its
 * size, without being read.
 */
export async function loadBlueprintFile(
  path: string,
  limits: Partial<BlueprintLimits> = {},
): Promise<LoadedBlueprint> {
  const maxBytes = limits.maxBytes ?? DEFAULT_BLUEPRINT_LIMITS.maxBytes;
  let text: string;
  try {
    const file = await open(path, "r");
    try {
      const { size } = await file.stat();
      if (size > maxBytes) throw tooLarge(path, size, maxBytes);
      text = await file.readFile("utf8");
    } finally {
      await file.close();
    }
  } catch (error) {
    if (error instanceof ConductorError) throw error;
    throw new ConductorError(
      "blueprint_unreadable",
      `cannot read blueprint ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return parseBlueprintText(text, path, limits);
}

/**
 * Texts from this many characters on are parsed in a worker thread: the YAML parser takes tens of milliseconds
 * for such a text on a loaded machine, and seconds for one of a few megabytes, which would hold up every other
 * request of a server.
 */
export const OFF_THREAD_CHARS = 64 * 1024;

/**
 * Parses blueprint text like {@link parseBlueprint}, but a large text in a worker thread, so that the event loop
 * stays free for other work meanwhile. Servers and commands use this; `parseBlueprint` remains for small texts
 * and code that needs an answer at once.
 */
export async function parseBlueprintText(
  text: string,
  source = "<inline>",
  limits: Partial<BlueprintLimits> = {},
): Promise<LoadedBlueprint> {
  if (text.length < OFF_THREAD_CHARS) return parseBlueprint(text, source, limits);
  const maxBytes = limits.maxBytes ?? DEFAULT_BLUEPRINT_LIMITS.maxBytes;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) throw tooLarge(source, bytes, maxBytes);
  return parseBlueprintInWorker(text, source, { limits });
}
