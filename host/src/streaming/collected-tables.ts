import { NodeFailure } from "@conductor/sdk";
import { isArrowTable, loadArrow, toLive } from "@conductor/sdk/protocol";
import type { Table } from "apache-arrow";

/** Where a collected stream of tables goes, for the message of a schema mismatch. */
export interface CollectedTablesSite {
  consumer: string;
  input: string;
  producer: string;
  port: string;
}

/**
 * Concatenates the collected items of a stream of Arrow record batches (live tables, or tables in their wire form
 * when a child runtime sent them) into one table. Every batch must have the schema of the first: a batch that does
 * not fails the consumer with `stream.schema-mismatch`, naming the consumer, its input, the stream and every field
 * that differs. No batch at all gives an empty table (no columns, no rows).
 */
export function concatCollectedTables(items: readonly unknown[], site: CollectedTablesSite): Table {
  const tables: Table[] = [];
  for (const [index, item] of items.entries()) {
    const table = toLive(item);
    if (!isArrowTable(table)) {
      throw new NodeFailure(
        `input "${site.input}" of node "${site.consumer}" collects stream "${site.producer}.${site.port}" into one Arrow table, but its item ${index} is not a table`,
        { type: "stream.schema-mismatch", retryable: false },
      );
    }
    tables.push(table);
  }
  if (tables.length === 0) return new (loadArrow().Table)();
  const first = tables[0]!;
  for (let index = 1; index < tables.length; index++) {
    const differences = schemaDifferences(first, tables[index]!);
    if (differences.length === 0) continue;
    throw new NodeFailure(
      `input "${site.input}" of node "${site.consumer}" collects stream "${site.producer}.${site.port}" into one Arrow table, but batch ${index} has a schema different from batch 0: ${differences.join("; ")}`,
      {
        type: "stream.schema-mismatch",
        retryable: false,
        details: { producer: site.producer, port: site.port, batch: index, differences },
      },
    );
  }
  return tables.length === 1 ? first : first.concat(...tables.slice(1));
}

/** The fields of batch `other` that differ from those of `first`, by name: type, nullability, absence, order. */
function schemaDifferences(first: Table, other: Table): string[] {
  const differences: string[] = [];
  const firstFields = new Map(first.schema.fields.map((field) => [field.name, field]));
  const otherFields = new Map(other.schema.fields.map((field) => [field.name, field]));
  for (const [name, field] of firstFields) {
    const found = otherFields.get(name);
    if (found === undefined) differences.push(`field "${name}" (${field.type}) is missing`);
    else if (String(found.type) !== String(field.type))
      differences.push(`field "${name}" is ${found.type}, expected ${field.type}`);
    else if (found.nullable !== field.nullable)
      differences.push(
        `field "${name}" is ${found.nullable ? "nullable" : "not nullable"}, expected ${field.nullable ? "nullable" : "not nullable"}`,
      );
  }
  for (const [name, field] of otherFields) {
    if (!firstFields.has(name)) differences.push(`field "${name}" (${field.type}) is not in batch 0`);
  }
  if (differences.length === 0) {
    const firstOrder = [...firstFields.keys()].join(", ");
    const otherOrder = [...otherFields.keys()].join(", ");
    if (firstOrder !== otherOrder)
      differences.push(`the fields are in another order: ${otherOrder}, expected ${firstOrder}`);
  }
  return differences;
}
