/**
 * JSON text in and out without changing any number or bytes: an integer beyond 2^53 - 1 (`Number.MAX_SAFE_INTEGER`), which
 * a JavaScript number cannot hold exactly, is read as a `bigint` with every digit, and a `bigint` is written as its
 * digits. Use these instead of `JSON.parse` / `JSON.stringify` wherever a port value, a config or an input is read
 * or written, so that 9007199254740993 stays 9007199254740993 from a blueprint to a Python or Rust node and back
 * (docs/decisions.md, "Integers beyond 2^53"). Every other number stays a `number`, so ordinary JSON costs what
 * `JSON.parse` costs. Bytes nested in a JSON value (a `Uint8Array` or `Buffer` in an object or a list) are written
 * as `{"$bytes": "<base64>"}`, the one form docs/protocol.md (section 3.2, "Bytes inside JSON") gives them on the
 * wire, and {@link parseJsonWithBytes} reads that form back as a `Uint8Array`.
 */

/** `JSON.rawJSON` (Node ≥ 21): a value `JSON.stringify` writes as the given text. */
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** An integer literal as JSON writes one: optional minus, digits, no fraction or exponent. */
const INTEGER_LITERAL = /^-?\d+$/;

/**
 * Because every integer beyond 2^53 - 1 has at least 16 digits, text without a run of 16 digits cannot hold one,
 * and is parsed by the plain (and much faster) `JSON.parse`.
 */
const LONG_DIGIT_RUN = /\d{16}/;

/** The reviver keeping every digit: `context.source` is the literal's own text (Node ≥ 21). */
function exactIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (
    typeof value === "number" &&
    !Number.isSafeInteger(value) &&
    context?.source !== undefined &&
    INTEGER_LITERAL.test(context.source)
  ) {
    return BigInt(context.source);
  }
  return value;
}

/** The reserved key of bytes inside a JSON value: `{"$bytes": "<base64>"}` (docs/protocol.md, section 3.2). */
export const BYTES_KEY = "$bytes";

/** Standard base64 (RFC 4648, section 4) with its padding, as `{"$bytes": ...}` holds it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Node's Buffer where there is one (the fast path); the engine also runs in a browser page, which has none. */
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/** Bytes as standard base64 with padding (the text of `{"$bytes": ...}`), in Node and in a page alike. */
export function bytesToBase64(bytes: Uint8Array): string {
  if (NodeBuffer !== undefined)
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  if (NodeBuffer !== undefined) {
    const bytes = NodeBuffer.from(text, "base64");
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

/** Whether a parsed object is the JSON form of bytes: `$bytes` its only key, holding standard base64. */
function isBytesForm(value: object): value is { $bytes: string } {
  const text = (value as { $bytes?: unknown }).$bytes;
  if (typeof text !== "string" || !BASE64.test(text)) return false;
  for (const key in value) if (key !== BYTES_KEY) return false;
  return true;
}

function exactIntegersAndBytes(key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && isBytesForm(value)) {
    return fromBase64(value.$bytes);
  }
  return exactIntegers(key, value, context);
}

/**
 * Parses a value's JSON text as {@link parseJsonText} does, and also reads bytes nested in it, each written
 * `{"$bytes": "<base64>"}` (an object with that one key holding standard base64), as a `Uint8Array`. This is how a
 * `json` Value of the runtime ABI is read; text without `"$bytes"` costs what {@link parseJsonText} costs.
 */
export function parseJsonWithBytes(text: string): unknown {
  if (!text.includes('"$bytes"')) return parseJsonText(text);
  return JSON.parse(text, exactIntegersAndBytes as (key: string, value: unknown) => unknown);
}

/**
 * Parses JSON text like `JSON.parse`, except that an integer literal beyond 2^53 - 1 (in either direction) becomes
 * a `bigint` holding exactly the digits written. Throws a SyntaxError for text that is not JSON.
 */
export function parseJsonText(text: string): unknown {
  if (!LONG_DIGIT_RUN.test(text)) return JSON.parse(text);
  return JSON.parse(text, exactIntegers as (key: string, value: unknown) => unknown);
}

/** Whether a number or bigint is an integer JavaScript numbers cannot hold exactly (beyond 2^53 - 1). */
export function isUnsafeInteger(value: unknown): value is bigint {
  return typeof value === "bigint" && (value > MAX_SAFE || value < -MAX_SAFE);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** {@link containsBytes}, where a cycle (which `JSON.stringify` reports in its own words) counts as bytes. */
function hasBytes(value: object): boolean {
  try {
    return containsBytes(value);
  } catch (error) {
    if (error instanceof RangeError) return true;
    throw error;
  }
}

function bigintAsDigits(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? rawJson(value.toString()) : value;
}

/**
 * Whether bytes (a `Uint8Array`, a `Buffer` among them) are nested in a value. A walk costs a few
 * percent of `JSON.stringify`, where a replacer run on every value would cost it several times over.
 */
function containsBytes(value: object): boolean {
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) {
    for (const item of value)
      if (typeof item === "object" && item !== null && containsBytes(item)) return true;
    return false;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === "object" && item !== null && containsBytes(item)) return true;
  }
  return false;
}

/** Writes bytes as `{"$bytes": base64}` and bigints as digits; `this[key]` is the value before its `toJSON`. */
function bytesAndBigints(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (typeof original === "bigint") return rawJson(original.toString());
  if (original instanceof Uint8Array) return { [BYTES_KEY]: bytesToBase64(original) };
  return value;
}

/**
 * JSON text of a value like `JSON.stringify`, except that a `bigint` (wherever it is nested) is written as its
 * digits instead of throwing, and bytes nested in it as `{"$bytes": "<base64>"}` instead of an object of numbered
 * keys. A value JSON cannot write at the top (`undefined`, a function) gives `null`.
 */
export function stringifyJson(value: unknown, space?: number): string {
  if (typeof value === "object" && value !== null && hasBytes(value)) {
    return JSON.stringify(value, bytesAndBigints, space) ?? "null";
  }
  try {
    return JSON.stringify(value, null, space) ?? "null";
  } catch (error) {
    // Because a bigint is the usual reason JSON.stringify throws and the replacer costs on every value, the plain
    // call goes first; anything else (a cycle) throws again from the second call, with its own message.
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, bigintAsDigits, space) ?? "null";
  }
}

/**
 * A `JSON.stringify` replacer writing bigints as their digits, for callers that have their own replacer: call it
 * on the value the own replacer returns.
 */
export function bigintReplacement(value: unknown): unknown {
  return typeof value === "bigint" ? rawJson(value.toString()) : value;
}
