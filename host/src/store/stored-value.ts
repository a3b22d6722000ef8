import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EncodedValue, encodeValue, isArrowTable, type Value, ValueSchema } from "@conductor/sdk/protocol";
import type { ExecutionEvent } from "../scheduler/execution-events.js";

/**
 * Turns events into JSON text for the journal and back. JSON values are stored as they are; values JSON cannot
 * hold (bytes, Arrow tables, values still in wire form) are stored as `{"$value": <base64 of the ABI Value>}`, and a
 * blob they reference is copied into the journal's blob directory first, because the host's blob directory does
 * not outlive the host.
 */
export class EventCodec {
  constructor(private readonly blobDir: string) {}

  /** JSON text of a batch of events of one execution (the execution id is stored once, beside the batch). */
  encode(events: readonly ExecutionEvent[]): string {
    return JSON.stringify(events.map((event) => this.storable(event)));
  }

  decode(text: string, executionId: string): ExecutionEvent[] {
    return (JSON.parse(text) as Record<string, unknown>[]).map((event) => {
      event.executionId = executionId;
      return this.revive(event) as ExecutionEvent;
    });
  }

  /** A value in storable form (for the result cache, which stores outputs the same way). */
  storableValue(value: unknown): unknown {
    if (value === null || typeof value !== "object")
      return typeof value === "bigint" ? value.toString() : value;
    if (value instanceof EncodedValue) {
      const kind = value.wire.kind;
      if (kind.case === "json") return { $json: new TextDecoder().decode(kind.value) };
      return { $value: Buffer.from(toBinary(ValueSchema, this.persistBlob(value.wire))).toString("base64") };
    }
    if (value instanceof Uint8Array || isArrowTable(value)) {
      return { $value: Buffer.from(toBinary(ValueSchema, encodeValue(value))).toString("base64") };
    }
    if (Array.isArray(value)) return value.map((item) => this.storableValue(item));
    const copy: Record<string, unknown> = {};
    for (const key in value) copy[key] = this.storableValue((value as Record<string, unknown>)[key]);
    return copy;
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

  private storable(event: ExecutionEvent): unknown {
    const { executionId: _stored, ...rest } = event;
    switch (rest.type) {
      case "execution.started":
        return { ...rest, inputs: this.storableValue(rest.inputs) };
      case "node.started":
        return rest.inputs === undefined ? rest : { ...rest, inputs: this.storableValue(rest.inputs) };
      case "node.completed":
        return { ...rest, outputs: this.storableValue(rest.outputs) };
      case "node.chunk":
        return { ...rest, value: this.storableValue(rest.value) };
      case "node.failed":
        return { ...rest, failure: this.storableValue(rest.failure) };
      case "execution.finished":
        return {
          ...rest,
          outputs: this.storableValue(rest.outputs),
          ...(rest.failure === undefined ? {} : { failure: this.storableValue(rest.failure) }),
        };
      default:
        return rest;
    }
  }

  private revive(event: Record<string, unknown>): unknown {
    for (const field of ["inputs", "outputs", "value", "failure"]) {
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
      mkdirSync(this.blobDir, { recursive: true });
      copyFileSync(fileURLToPath(kind.value.uri), target);
    }
    return create(ValueSchema, {
      kind: { case: "blob", value: { ...kind.value, uri: pathToFileURL(target).href } },
    });
  }
}
