import { copyFileSync, existsSync, linkSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  BlobRef_Encoding,
  EncodedValue,
  encodeValue,
  isArrowTable,
  parseJsonText,
  stringifyJson,
  type Value,
  ValueSchema,
  writeBlob,
} from "@conductor/sdk/protocol";
import type { ExecutionEvent } from "../scheduler/execution-events.js";

/**
 * Values larger than this (JSON text, bytes, an Arrow table, a value in wire form) are stored once in the journal's
 * blob directory, named by their SHA-256, rather than in its rows.
 */
export const STORED_INLINE_LIMIT = 1024 * 1024;

/** The same limit under the name the value-handle tests use. */
export const BLOB_BYTES = STORED_INLINE_LIMIT;

/**
 * Turns events into JSON text for the journal and back. JSON values are stored as they are; values JSON cannot
 * hold (bytes, Arrow tables, values still in wire form) are stored as `{"$value": <base64 of the ABI Value>}`, and a
 * blob they reference is copied into the journal's blob directory first, because the host's blob directory does
 * not outlive the host. A port's value above {@link STORED_INLINE_LIMIT} (a large string a TypeScript node made,
 * say) is written to the blob directory and stored as a reference, as runtimes pass large values: a reader of the
 * journal (`conductor inspect`) then loads it only when it needs it, and the same value recorded by several events
 * (a node's output, the next node's input, the execution's output) is written once.
 */
export class EventCodec {
  /** The stored forms of large values recorded lately, so that one value seen by several events is written once. */
  private readonly spilled = new WeakMap<object, unknown>();
  private readonly spilledText: [string, unknown][] = [];

  constructor(
    private readonly blobDir: string,
    private readonly inlineLimit = STORED_INLINE_LIMIT,
  ) {}

  /**
   * JSON text of a batch of events of one execution, in order (the execution id is stored once, beside the batch).
   * Compact: `[2, seq before the first, time of the first, ...events]`, each event `[type code, milliseconds since
   * the previous one, node id or 0, other fields]` with empty trailing items left out. An event's `seq` is the
   * previous one's plus one unless its other fields say otherwise. Batches written as an array of whole event
   * objects (before this form) are read as well.
   */
  encode(events: readonly ExecutionEvent[]): string {
    const first = events[0];
    if (first === undefined) return "[]";
    const rows: unknown[] = [BATCH_FORM, first.seq - 1, first.at];
    let seq = first.seq - 1;
    let at = first.at;
    for (const event of events) {
      const fields = this.fields(event, seq + 1);
      const nodeId = "nodeId" in event ? event.nodeId : 0;
      const code = CODE_OF_TYPE[event.type] ?? event.type;
      rows.push(
        fields !== undefined
          ? [code, event.at - at, nodeId, fields]
          : nodeId !== 0
            ? [code, event.at - at, nodeId]
            : [code, event.at - at],
      );
      seq = event.seq;
      at = event.at;
    }
    return stringifyJson(rows);
  }

  decode(text: string, executionId: string): ExecutionEvent[] {
    const parsed = parseJsonText(text) as unknown[];
    if (parsed[0] !== BATCH_FORM) {
      return (parsed as Record<string, unknown>[]).map((event) => {
        event.executionId = executionId;
        return this.revive(event) as unknown as ExecutionEvent;
      });
    }
    let seq = parsed[1] as number;
    let at = parsed[2] as number;
    const events: ExecutionEvent[] = [];
    for (let i = 3; i < parsed.length; i++) {
      const [code, delta, nodeId, fields] = parsed[i] as [string, number, string | 0 | undefined, unknown];
      at += delta;
      const event: Record<string, unknown> = {
        type: TYPE_OF_CODE[code] ?? code,
        executionId,
        seq: seq + 1,
        at,
      };
      if (nodeId !== undefined && nodeId !== 0) event.nodeId = nodeId;
      if (fields !== undefined) Object.assign(event, this.revive(fields as Record<string, unknown>));
      seq = event.seq as number;
      events.push(event as unknown as ExecutionEvent);
    }
    return events;
  }

  /** A value in storable form (for the result cache, which stores outputs the same way). */
  storableValue(value: unknown): unknown {
    // Plain JSON (the usual case) is stored as it is: no copy.
    return plainJson(value, 0) ? value : this.storableCopy(value);
  }

  /** The values of an execution's or a node's ports in storable form, each large one as a blob of its own. */
  storablePorts(ports: unknown): unknown {
    if (typeof ports !== "object" || ports === null || Array.isArray(ports)) return this.storableValue(ports);
    let copy: Record<string, unknown> | undefined;
    for (const port in ports) {
      const value = (ports as Record<string, unknown>)[port];
      const stored = this.storableLarge(value) ?? this.storableValue(value);
      if (stored !== value) copy ??= { ...(ports as Record<string, unknown>) };
      if (copy !== undefined) copy[port] = stored;
    }
    return copy ?? ports;
  }

  /** A large JSON value as a reference to a blob; undefined for anything else. */
  private storableLarge(value: unknown): unknown {
    if (typeof value === "string") {
      if (value.length <= this.inlineLimit / 6) return undefined;
      const known = this.spilledText.find(([text]) => text === value);
      if (known !== undefined) return known[1];
      const stored = this.spill(value);
      if (stored === undefined) return undefined;
      this.spilledText.push([value, stored]);
      if (this.spilledText.length > 4) this.spilledText.shift();
      return stored;
    }
    if (typeof value !== "object" || value === null) return undefined;
    const known = this.spilled.get(value);
    if (known !== undefined) return known;
    if (!plainJson(value, 0) || !largerThan(value, this.inlineLimit / 6)) return undefined;
    const stored = this.spill(value);
    if (stored !== undefined) this.spilled.set(value, stored);
    return stored;
  }

  /** Writes a JSON value to the blob directory when its text is over the limit; its stored reference. */
  private spill(value: unknown): unknown {
    const wire = encodeValue(value, { inlineLimit: this.inlineLimit, blobDir: this.blobDir });
    if (wire.kind.case !== "blob") return undefined;
    return { $value: Buffer.from(toBinary(ValueSchema, wire)).toString("base64") };
  }

  private storableCopy(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    if (value instanceof EncodedValue) {
      const kind = value.wire.kind;
      // A large value still in wire form (a runtime's 300 MB output) is one blob file, however many events carry it.
      if (kind.case !== "blob" && kind.case !== undefined && kind.value.byteLength > this.inlineLimit) {
        return this.blobValue(kind.value, ENCODING_OF_KIND[kind.case]);
      }
      if (kind.case === "json") return { $json: new TextDecoder().decode(kind.value) };
      return { $value: Buffer.from(toBinary(ValueSchema, this.persistBlob(value.wire))).toString("base64") };
    }
    if (value instanceof Uint8Array || isArrowTable(value)) {
      const wire = encodeValue(value, { inlineLimit: this.inlineLimit, blobDir: this.blobDir });
      return { $value: Buffer.from(toBinary(ValueSchema, wire)).toString("base64") };
    }
    if (Array.isArray(value)) return value.map((item) => this.storableCopy(item));
    const copy: Record<string, unknown> = {};
    for (const key in value) copy[key] = this.storableCopy((value as Record<string, unknown>)[key]);
    return copy;
  }

  /** A large value written once to the blob directory (named by its SHA-256), in storable form. */
  private blobValue(bytes: Uint8Array, encoding: BlobRef_Encoding): unknown {
    mkdirSync(this.blobDir, { recursive: true, mode: 0o700 });
    const ref = writeBlob(this.blobDir, bytes, encoding);
    const wire = create(ValueSchema, { kind: { case: "blob", value: ref } });
    return { $value: Buffer.from(toBinary(ValueSchema, wire)).toString("base64") };
  }

  /** The value back from its storable form; bytes and tables come back as values in wire form. */
  reviveValue(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((item) => this.reviveValue(item));
    const record = value as Record<string, unknown>;
    if (typeof record.$value === "string" && Object.keys(record).length === 1) {
      return new EncodedValue(fromBinary(ValueSchema, Buffer.from(record.$value, "base64")));
    }
    if (typeof record.$json === "string" && Object.keys(record).length === 1) {
      return new EncodedValue(
        create(ValueSchema, { kind: { case: "json", value: new TextEncoder().encode(record.$json) } }),
      );
    }
    const copy: Record<string, unknown> = {};
    for (const key in record) copy[key] = this.reviveValue(record[key]);
    return copy;
  }

  /**
   * The fields of an event other than those every event has (type, execution, seq, time, node), values in storable
   * form; `seq` only when it is not `expectedSeq`. Undefined when there are none.
   */
  private fields(event: ExecutionEvent, expectedSeq: number): Record<string, unknown> | undefined {
    let fields: Record<string, unknown> | undefined;
    for (const key in event) {
      if (COMMON_FIELDS.has(key)) continue;
      const value = (event as unknown as Record<string, unknown>)[key];
      if (value === undefined) continue;
      fields ??= {};
      fields[key] = PORT_FIELDS.has(key)
        ? this.storablePorts(value)
        : key === "value"
          ? (this.storableLarge(value) ?? this.storableValue(value))
          : VALUE_FIELDS.has(key)
            ? this.storableValue(value)
            : value;
    }
    if (event.seq !== expectedSeq) {
      fields ??= {};
      fields.seq = event.seq;
    }
    return fields;
  }

  private revive(event: Record<string, unknown>): Record<string, unknown> {
    for (const field of VALUE_FIELDS) {
      if (field in event) event[field] = this.reviveValue(event[field]);
    }
    return event;
  }

  /** Copies the blob a value references into the journal's blob directory and points the value at the copy. */
  private persistBlob(value: Value): Value {
    const kind = value.kind;
    if (kind.case !== "blob") return value;
    const target = join(this.blobDir, kind.value.sha256);
    if (!existsSync(target)) {
      // Recorded values are the journal's: as private as the journal itself.
      mkdirSync(this.blobDir, { recursive: true, mode: 0o700 });
      // A hard link when the blob is on the same file system (an upload in the project): no second copy on disk.
      try {
        linkSync(fileURLToPath(kind.value.uri), target);
      } catch {
        copyFileSync(fileURLToPath(kind.value.uri), target);
      }
    }
    return create(ValueSchema, {
      kind: { case: "blob", value: { ...kind.value, uri: pathToFileURL(target).href } },
    });
  }
}

/** Marks a batch in the compact form of {@link EventCodec.encode}. */
const BATCH_FORM = 2;

/** Short codes of the event types, in stored batches; a type without one is stored as it is. */
const CODE_OF_TYPE: Partial<Record<string, string>> = {
  "execution.started": "S",
  "execution.finished": "F",
  "node.queued": "q",
  "node.started": "s",
  "node.completed": "c",
  "node.failed": "f",
  "node.log": "l",
  "node.progress": "p",
  "node.chunk": "k",
  "node.heartbeat": "h",
  "node.cancelled": "x",
  "node.skipped": "n",
};

const TYPE_OF_CODE: Partial<Record<string, string>> = Object.fromEntries(
  Object.entries(CODE_OF_TYPE).map(([type, code]) => [code, type]),
);

/** Fields every event has, stored in the batch's frame rather than with each event. */
const COMMON_FIELDS = new Set(["type", "executionId", "seq", "at", "nodeId"]);

/** Fields holding values, which may need a storable form (bytes, tables, values in wire form). */
const VALUE_FIELDS = new Set(["inputs", "outputs", "value", "failure"]);

/** The blob encoding of each kind of inline wire value. */
const ENCODING_OF_KIND = {
  json: BlobRef_Encoding.JSON,
  raw: BlobRef_Encoding.RAW,
  arrow: BlobRef_Encoding.ARROW,
} as const;

/** Fields holding a node's or an execution's values by port: each port's value is stored on its own. */
const PORT_FIELDS = new Set(["inputs", "outputs"]);

/**
 * Whether a plain JSON value holds more than `limit` characters of strings (or as many values): a cheap lower
 * bound of its JSON's size, which stops counting as soon as it is reached.
 */
function largerThan(value: unknown, limit: number): boolean {
  let budget = limit;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === "string") budget -= item.length;
    else if (typeof item === "object" && item !== null) {
      if (Array.isArray(item)) {
        budget -= item.length;
        for (const element of item) stack.push(element);
      } else {
        for (const key in item) {
          budget -= key.length + 1;
          stack.push((item as Record<string, unknown>)[key]);
        }
      }
    } else budget -= 1;
    if (budget < 0) return true;
  }
  return false;
}

/** Whether a value is plain JSON (primitives, arrays and plain objects), which is stored as it is. */
function plainJson(value: unknown, depth: number): boolean {
  if (value === null) return true;
  const type = typeof value;
  // A bigint (an integer beyond 2^53 - 1) is stored as its digits by stringifyJson, and read back as a bigint.
  if (
    type === "string" ||
    type === "number" ||
    type === "boolean" ||
    type === "undefined" ||
    type === "bigint"
  )
    return true;
  if (type !== "object" || depth > 64) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!plainJson(value[i], depth + 1)) return false;
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const key in value as Record<string, unknown>) {
    if (!plainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}
