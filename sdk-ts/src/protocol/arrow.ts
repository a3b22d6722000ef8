import { platform } from "#platform";

/**
 * apache-arrow, loaded on first use. Loading it costs ~70 ms, so nothing imports it until a value actually is a
 * table; it is the instance that `import "apache-arrow"` in a node's own code gets, so a table built by a node is an
 * `instanceof` the same class the codec sees (platform/node.ts says how).
 */
type Arrow = typeof import("apache-arrow");

/** Returns the apache-arrow module, loading it the first time. */
export function loadArrow(): Arrow {
  return platform.loadArrow();
}

/** Whether a value is an apache-arrow Table, without loading apache-arrow when it cannot be one. */
export function isArrowTable(value: unknown): value is import("apache-arrow").Table {
  if (typeof value !== "object" || value === null || !("batches" in value) || !("schema" in value))
    return false;
  return value instanceof loadArrow().Table;
}

/** Encodes a table in the Arrow IPC stream format. */
export function tableToIpc(table: import("apache-arrow").Table): Uint8Array {
  return loadArrow().tableToIPC(table, "stream");
}

/** Decodes Arrow IPC stream (or file) bytes into a table. */
export function tableFromIpc(bytes: Uint8Array): import("apache-arrow").Table {
  return loadArrow().tableFromIPC(bytes);
}
