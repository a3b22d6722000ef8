import type { ResultCache } from "../scheduler/execution.js";

/** A {@link ResultCache} in memory, for a conductor without a journal; lost on exit. Bounded: oldest out first. */
export function createMemoryCache(maxEntries = 10_000): ResultCache {
  const entries = new Map<string, Record<string, unknown>>();
  return {
    get: (key) => entries.get(key),
    put(key, _nodeType, outputs) {
      entries.delete(key);
      entries.set(key, outputs);
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
  };
}
