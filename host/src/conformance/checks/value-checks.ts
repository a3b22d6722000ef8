import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import {
  BlobRef_Encoding,
  ENV,
  type Event,
  FEATURES,
  tableFromIpc,
  type Value,
  ValueSchema,
} from "@conductor/sdk/protocol";
import { CheckFailure, type ConformanceCheck, expectEqual, expectThat, show } from "../conformance-check.js";
import {
  checkGrammar,
  expectFailure,
  failureOf,
  given,
  jsonText,
  jsonTextOf,
  raw,
  step,
  terminal,
  valueBytes,
} from "../kit-messages.js";
import { PRODUCED_JSON } from "../kitchen-sink-spec.js";
import type { RuntimeFixture } from "../runtime-fixture.js";
import { describeEvents, type SessionDriver } from "../session-driver.js";

/** Every kind of Value (docs/protocol.md §3.2): JSON with integers beyond 2^53, bytes, Arrow IPC, blobs. */
export const valueChecks: ConformanceCheck[] = [
  {
    id: "values.json",
    title: "conformance.produce returns the documented JSON, 9007199254740993 with every digit",
    async run({ shared, patienceMs }) {
      const value = await output(
        await shared(),
        patienceMs,
        step("make", "conformance.produce", { kind: "json" }),
      );
      expectEqual(
        parseExact(jsonTextOf(value, 'output "value"')),
        parseExact(PRODUCED_JSON),
        'output "value"',
      );
    },
  },
  {
    id: "values.json-big-integers",
    title: "JSON integers beyond 2^53, and beyond 64 bits, pass through conformance.echo with every digit",
    async run({ shared, patienceMs }) {
      // Beyond 2^53, and beyond what 64 bits hold (u64 + 1, i64 - 1, 30 digits): a number is its text.
      const text =
        '{"big":9007199254740993,"negative":-9007199254740995,"list":[18014398509481985],' +
        '"u64":18446744073709551615,"beyondU64":18446744073709551616,"beyondI64":-9223372036854775809,' +
        '"huge":123456789012345678901234567890}';
      const value = await output(
        await shared(),
        patienceMs,
        step("echo", "conformance.echo", {}, { value: given(jsonText(text)) }),
      );
      expectEqual(parseExact(jsonTextOf(value, 'output "value"')), parseExact(text), 'output "value"');
    },
  },
  {
    id: "values.json-bytes",
    title: 'bytes inside a JSON value, {"$bytes": "<base64>"}, pass through conformance.echo as that form',
    async run({ shared, patienceMs }) {
      // An SDK that reads the form as bytes must write it back the same way (not as a list of numbers, an object
      // of numbered keys or a UTF-8 string); objects that are not exactly the form stay as they are.
      const text =
        '{"name":"a.bin","data":{"$bytes":"AAH+/w=="},"parts":[{"$bytes":""},{"$bytes":"aGk="}],' +
        '"notBytes":{"$bytes":"AA==","size":1},"big":9007199254740993}';
      const value = await output(
        await shared(),
        patienceMs,
        step("echo", "conformance.echo", {}, { value: given(jsonText(text)) }),
      );
      expectEqual(parseExact(jsonTextOf(value, 'output "value"')), parseExact(text), 'output "value"');
    },
  },
  {
    id: "values.bytes",
    title: "bytes travel as raw values, out of conformance.produce and through conformance.echo",
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const produced = await output(
        fixture,
        patienceMs,
        step("make", "conformance.produce", { kind: "bytes" }),
      );
      expectRaw(
        produced,
        Uint8Array.from({ length: 256 }, (_, i) => i),
        'output "value" of produce',
      );
      const sent = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
      const echoed = await output(
        fixture,
        patienceMs,
        step("echo", "conformance.echo", {}, { value: given(raw(sent)) }),
      );
      expectRaw(echoed, sent, 'output "value" of echo');
    },
  },
  {
    id: "values.arrow",
    title:
      "Arrow IPC tables keep their types and nulls, out of conformance.produce and through conformance.echo",
    feature: FEATURES.arrow,
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const produced = await output(
        fixture,
        patienceMs,
        step("make", "conformance.produce", { kind: "arrow" }),
      );
      expectThat(produced.kind.case === "arrow", "an arrow value", () => `a ${produced.kind.case} value`);
      expectTable(valueBytes(produced), 'output "value" of produce');
      const echoed = await output(
        fixture,
        patienceMs,
        step("echo", "conformance.echo", {}, { value: given(produced) }),
      );
      expectThat(
        echoed.kind.case === "arrow",
        "an arrow value from echo",
        () => `a ${echoed.kind.case} value`,
      );
      expectTable(valueBytes(echoed), 'output "value" of echo');
    },
  },
  {
    id: "values.blob-out",
    title:
      "a value over CONDUCTOR_INLINE_LIMIT goes out as a blob: in the blob directory, named and checked by SHA-256",
    feature: FEATURES.blob,
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const size = inlineLimit(fixture) * 3 + 17;
      const value = await output(
        fixture,
        patienceMs,
        step("make", "conformance.produce", { kind: "large", size }),
      );
      expectBlob(fixture, value, pattern(size), BlobRef_Encoding.RAW);
    },
  },
  {
    id: "values.inline-limit",
    title: "a value of exactly CONDUCTOR_INLINE_LIMIT bytes stays inline; one byte more becomes a blob",
    feature: FEATURES.blob,
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const limit = inlineLimit(fixture);
      const at = await output(
        fixture,
        patienceMs,
        step("make", "conformance.produce", { kind: "large", size: limit }),
      );
      expectRaw(at, pattern(limit), `a value of ${limit} bytes (the limit)`);
      const over = await output(
        fixture,
        patienceMs,
        step("make", "conformance.produce", { kind: "large", size: limit + 1 }),
      );
      expectThat(
        over.kind.case === "blob",
        `a blob for ${limit + 1} bytes`,
        () => `a ${over.kind.case} value`,
      );
    },
  },
  {
    id: "values.blob-in",
    title: "a blob reference as input is read from its file (conformance.echo returns its bytes)",
    feature: FEATURES.blob,
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const bytes = Uint8Array.from({ length: inlineLimit(fixture) * 2 + 5 }, (_, i) => (i * 13 + 1) % 256);
      const echoed = await output(
        fixture,
        patienceMs,
        step("echo", "conformance.echo", {}, { value: given(writeKitBlob(fixture, bytes)) }),
      );
      const got = valueBytes(echoed);
      expectThat(
        (echoed.kind.case === "blob" || echoed.kind.case === "raw") && Buffer.compare(got, bytes) === 0,
        `the same ${bytes.byteLength} bytes back, as raw or blob`,
        () =>
          `a ${echoed.kind.case} value of ${got.byteLength} bytes${Buffer.compare(got, bytes) === 0 ? "" : " that differ"}`,
      );
    },
  },
  {
    id: "values.blob-corrupt",
    title: "a blob whose file is missing or whose size differs fails the step as blob.corrupt, not retryable",
    feature: FEATURES.blob,
    async run({ shared, patienceMs }) {
      const fixture = await shared();
      const session = fixture.session();
      const good = writeKitBlob(
        fixture,
        Uint8Array.from({ length: inlineLimit(fixture) + 10 }, (_, i) => i % 7),
      );
      if (good.kind.case !== "blob") return;
      const wrongSize = create(ValueSchema, {
        kind: { case: "blob", value: { ...good.kind.value, size: good.kind.value.size + 1n } },
      });
      const missing = create(ValueSchema, {
        kind: {
          case: "blob",
          value: {
            ...good.kind.value,
            uri: pathToFileURL(join(fixture.program.blobDir, "0".repeat(64))).href,
          },
        },
      });
      for (const [what, value] of [
        ["a size one byte more than the file's", wrongSize],
        ["a file that does not exist", missing],
      ] as const) {
        const id = session.execute({
          steps: [step("echo", "conformance.echo", {}, { value: given(value) })],
        });
        const events = await session.waitForEnd(id, patienceMs);
        checkGrammar(events, 1);
        const failure = failureOf(terminal(events, "failed"), "failed", `${what}: a failed event`);
        expectFailure(failure, { type: "blob.corrupt", retryable: false });
      }
    },
  },
];

/** Runs one step on the shared session and gives its only output. */
async function output(
  fixture: RuntimeFixture,
  patienceMs: number,
  init: ReturnType<typeof step>,
): Promise<Value> {
  const session: SessionDriver = fixture.session();
  const id = session.execute({ steps: [init] });
  const events: readonly Event[] = await session.waitForEnd(id, patienceMs);
  checkGrammar(events, 1);
  const last = terminal(events, "completed");
  if (last.kind.case !== "completed")
    throw new CheckFailure(`${init.nodeType} to complete`, describeEvents(events));
  const outputs = Object.values(last.kind.value.outputs);
  if (outputs.length !== 1) throw new CheckFailure("one output", show(Object.keys(last.kind.value.outputs)));
  return outputs[0]!;
}

function inlineLimit(fixture: RuntimeFixture): number {
  return Number(fixture.program.abiEnv[ENV.inlineLimit]);
}

/** The bytes of `conformance.produce` kind "large": byte i is i % 251. */
function pattern(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => i % 251);
}

function expectRaw(value: Value, bytes: Uint8Array, what: string): void {
  expectThat(
    value.kind.case === "raw" && Buffer.compare(value.kind.value, bytes) === 0,
    `${what}: a raw value of ${show(bytes)}`,
    () => `a ${value.kind.case} value${value.kind.case === "raw" ? ` of ${show(value.kind.value)}` : ""}`,
  );
}

function expectTable(bytes: Uint8Array, what: string): void {
  let table: ReturnType<typeof tableFromIpc>;
  try {
    table = tableFromIpc(bytes);
  } catch (error) {
    throw new CheckFailure(`${what}: Arrow IPC stream bytes`, (error as Error).message);
  }
  expectEqual(
    table.schema.fields.map((field) => `${field.name}:${field.type}`),
    ["id:Int64", "name:Utf8", "score:Float64"],
    `${what}: columns`,
  );
  expectEqual(
    table.toArray().map((row) => row.toJSON()),
    [
      { id: 1n, name: "a", score: 0.5 },
      { id: 2n, name: null, score: null },
      { id: 3n, name: "c", score: 2.5 },
    ],
    `${what}: rows`,
  );
}

function expectBlob(
  fixture: RuntimeFixture,
  value: Value,
  bytes: Uint8Array,
  encoding: BlobRef_Encoding,
): void {
  if (value.kind.case !== "blob") {
    throw new CheckFailure(`a blob reference for ${bytes.byteLength} bytes`, `a ${value.kind.case} value`);
  }
  const ref = value.kind.value;
  const problems: string[] = [];
  let path = "";
  try {
    path = fileURLToPath(ref.uri);
  } catch {
    problems.push(`uri must be file:///<absolute path>, found ${show(ref.uri)}`);
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (path !== "" && dirname(path) !== fixture.program.blobDir) {
    problems.push(`the file must be in CONDUCTOR_BLOB_DIR ${fixture.program.blobDir}, found ${path}`);
  }
  if (path !== "" && basename(path) !== sha256)
    problems.push(`the file must be named ${sha256}, found ${basename(path)}`);
  if (ref.size !== BigInt(bytes.byteLength))
    problems.push(`size must be ${bytes.byteLength}, found ${ref.size}`);
  if (ref.sha256 !== sha256) problems.push(`sha256 must be ${sha256}, found ${show(ref.sha256)}`);
  if (ref.encoding !== encoding) {
    problems.push(`encoding must be ${BlobRef_Encoding[encoding]}, found ${BlobRef_Encoding[ref.encoding]}`);
  }
  if (path !== "") {
    try {
      if (Buffer.compare(readFileSync(path), bytes) !== 0)
        problems.push("the file must hold the value's bytes");
    } catch (error) {
      problems.push(`the file must exist: ${(error as Error).message}`);
    }
  }
  expectThat(problems.length === 0, "a BlobRef as docs/protocol.md §3.2 specifies", () =>
    problems.join("; "),
  );
}

/** Writes bytes to the blob directory as a host does (named by SHA-256) and gives the reference. */
function writeKitBlob(fixture: RuntimeFixture, bytes: Uint8Array): Value {
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const path = join(fixture.program.blobDir, sha256);
  writeFileSync(path, bytes);
  return create(ValueSchema, {
    kind: {
      case: "blob",
      value: {
        uri: pathToFileURL(path).href,
        size: BigInt(bytes.byteLength),
        sha256,
        encoding: BlobRef_Encoding.RAW,
      },
    },
  });
}

/** Parses JSON keeping integers beyond 2^53 exact (as bigints), from their source text. */
export function parseExact(text: string): unknown {
  type Reviver = (key: string, value: unknown, context: { source?: string }) => unknown;
  const reviver: Reviver = (_key, value, context) =>
    typeof value === "number" &&
    context?.source !== undefined &&
    /^-?\d+$/.test(context.source) &&
    !Number.isSafeInteger(value)
      ? BigInt(context.source)
      : value;
  try {
    return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
  } catch (error) {
    throw new CheckFailure("JSON text", `${show(text.slice(0, 120))} (${(error as Error).message})`);
  }
}
