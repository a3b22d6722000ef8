import { isArrowTable, tableFromIpc, tableToIpc } from "@conductor/sdk/protocol";
import type { ExecutionEvent } from "../scheduler/execution-events.js";

/**
 * Events as IndexedDB can keep them. IndexedDB stores what the structured clone algorithm copies, and an Arrow
 * table (port values of type `values.table()`) is a graph of class instances with functions, which it refuses; a
 * table is stored as its Arrow IPC bytes instead and read back as a table. Other values (JSON, bytes) are stored as
 * they are. Tables are looked for where ports' values are: an event's inputs, outputs and stream chunk.
 */
const TABLE = "$conductorArrowIpc";

/** The event with each table among its port values replaced by its IPC bytes. */
export function storableEvent(event: ExecutionEvent): ExecutionEvent {
  return mapPortValues(event, (value) => (isArrowTable(value) ? { [TABLE]: tableToIpc(value) } : value));
}

/** The event as it was appended: each stored table read back from its IPC bytes. */
export function restoredEvent(event: ExecutionEvent): ExecutionEvent {
  return mapPortValues(event, (value) =>
    typeof value === "object" && value !== null && TABLE in value
      ? tableFromIpc((value as Record<typeof TABLE, Uint8Array>)[TABLE])
      : value,
  );
}

function mapPortValues(event: ExecutionEvent, map: (value: unknown) => unknown): ExecutionEvent {
  let copy: Record<string, unknown> | undefined;
  const record = event as unknown as Record<string, unknown>;
  for (const field of ["inputs", "outputs"]) {
    const ports = record[field];
    if (typeof ports !== "object" || ports === null) continue;
    let mapped: Record<string, unknown> | undefined;
    for (const [port, value] of Object.entries(ports)) {
      const next = map(value);
      if (next === value) continue;
      mapped ??= { ...(ports as Record<string, unknown>) };
      mapped[port] = next;
    }
    if (mapped !== undefined) {
      copy ??= { ...record };
      copy[field] = mapped;
    }
  }
  if ("value" in record) {
    const next = map(record.value);
    if (next !== record.value) {
      copy ??= { ...record };
      copy.value = next;
    }
  }
  return (copy ?? record) as unknown as ExecutionEvent;
}
