import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * apache-arrow, loaded on first use. Loading it costs ~70 ms, so nothing imports it until a value actually is a
 * table. It is required synchronously through its ES module entry, because `require()` of an ES module shares the
 * instance that `import "apache-arrow"` in a node's own code gets: a table built by a node is an `instanceof` the
 * same class the codec sees (the CommonJS build would be a second, incompatible copy).
 */
type Arrow = typeof import("apache-arrow");

let arrow: Arrow | undefined;

/** Returns the apache-arrow module, loading it the first time. */
export function loadArrow(): Arrow {
  if (arrow === undefined) {
    const require = createRequire(import.meta.url);
    arrow = require(fileURLToPath(import.meta.resolve("apache-arrow"))) as Arrow;
  }
  return arrow;
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
