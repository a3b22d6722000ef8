import type { Attributes, AttributeValue, HrTime } from "@opentelemetry/api";

/**
 * A protobuf writer for OTLP span messages (opentelemetry-proto's trace/v1/trace.proto and common/v1/common.proto),
 * writing the fields in the order and form that OpenTelemetry's own serializer (`@opentelemetry/otlp-transformer`)
 * does, so that the host's lean spans encode to the same bytes (`lean-span-encoder.test.ts` checks it). It exists
 * because the host encodes the constant part of its spans' attributes once (per execution, per node of a graph)
 * and copies those bytes into every span, where the generic serializer encodes each key and value of every span
 * again: that encoding was most of what tracing cost the in-process hot path (bench/src/scenarios/tracing.ts).
 */
export class OtlpWriter {
  buffer: Uint8Array;
  pos = 0;
  /** A view of {@link buffer} (for callers that write fixed-width numbers in place, after {@link ensure}). */
  view: DataView;

  constructor(size = 1024) {
    this.buffer = new Uint8Array(size);
    this.view = new DataView(this.buffer.buffer);
  }

  /** The bytes written so far (a view: copy it before writing more). */
  finish(): Uint8Array {
    return this.buffer.subarray(0, this.pos);
  }

  ensure(size: number): void {
    const needed = this.pos + size;
    if (needed <= this.buffer.length) return;
    let length = this.buffer.length * 2;
    while (length < needed) length *= 2;
    const grown = new Uint8Array(length);
    grown.set(this.buffer.subarray(0, this.pos));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  varint(value: number): void {
    this.ensure(10);
    const buffer = this.buffer;
    if (value >= 0 && value < 128) {
      buffer[this.pos++] = value;
      return;
    }
    if (value >= 0 && value <= 0xffffffff) {
      let rest = value >>> 0;
      while (rest > 127) {
        buffer[this.pos++] = (rest & 127) | 128;
        rest >>>= 7;
      }
      buffer[this.pos++] = rest;
      return;
    }
    // Other integers (negative, or beyond 32 bits) as 64-bit two's complement, as int64 fields are encoded.
    let big = BigInt.asUintN(64, BigInt(value));
    while (big > 127n) {
      buffer[this.pos++] = Number(big & 127n) | 128;
      big >>= 7n;
    }
    buffer[this.pos++] = Number(big);
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.view.setUint32(this.pos, low >>> 0, true);
    this.view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** An `HrTime` as nanoseconds since the epoch (fixed64), without a BigInt: the 64 bits are summed in parts. */
  hrTime(time: HrTime): void {
    this.secondsAndNanos(time[0], time[1]);
  }

  /**
   * Milliseconds since the epoch as nanoseconds (fixed64), rounded as the `HrTime` of them would be (whole seconds
   * and nanoseconds), without making that `HrTime`.
   */
  epochMs(ms: number): void {
    const seconds = Math.floor(ms / 1000);
    const nanos = Math.round((ms - seconds * 1000) * 1e6);
    if (nanos >= 1e9) this.secondsAndNanos(seconds + 1, nanos - 1e9);
    else this.secondsAndNanos(seconds, nanos);
  }

  /** {@link epochMs} at `pos`, where the caller made room (see {@link ensure}): no check, no move of `pos`. */
  epochMsAt(pos: number, ms: number): void {
    let seconds = Math.floor(ms / 1000);
    let nanos = Math.round((ms - seconds * 1000) * 1e6);
    if (nanos >= 1e9) {
      seconds++;
      nanos -= 1e9;
    }
    const fromLow = (seconds & 0xffff) * 1e9;
    const fromHigh = ((seconds / 65536) >>> 0) * 1e9;
    const low = (fromLow >>> 0) + ((((fromHigh & 0xffff) * 65536) >>> 0) + nanos);
    const high = Math.floor(fromLow / 4294967296) + ((fromHigh / 65536) >>> 0) + Math.floor(low / 4294967296);
    this.view.setUint32(pos, low >>> 0, true);
    this.view.setUint32(pos + 4, high >>> 0, true);
  }

  private secondsAndNanos(seconds: number, nanos: number): void {
    const fromLow = (seconds & 0xffff) * 1e9;
    const fromHigh = ((seconds / 65536) >>> 0) * 1e9;
    const low = (fromLow >>> 0) + ((((fromHigh & 0xffff) * 65536) >>> 0) + nanos);
    const high = Math.floor(fromLow / 4294967296) + ((fromHigh / 65536) >>> 0) + Math.floor(low / 4294967296);
    this.fixed64(low >>> 0, high >>> 0);
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.raw(value);
  }

  /** Bytes copied as they are (an encoded chunk of fields). */
  raw(value: Uint8Array): void {
    const length = value.length;
    this.ensure(length);
    const buffer = this.buffer;
    let pos = this.pos;
    // A loop for the shortest copies, because TypedArray#set costs more than a dozen bytes copied by hand.
    if (length <= 12) for (let i = 0; i < length; i++) buffer[pos++] = value[i]!;
    else {
      buffer.set(value, pos);
      pos += length;
    }
    this.pos = pos;
  }

  /**
   * A string the host writes again and again (a span's name, an attribute's key): its encoding (length included)
   * is kept the first time and copied after, up to {@link CACHE_LIMIT} entries of the process.
   */
  cachedString(value: string): void {
    const known = strings.get(value);
    if (known !== undefined) {
      this.raw(known);
      return;
    }
    const at = this.pos;
    this.string(value);
    if (cached < CACHE_LIMIT && value.length <= CACHED_LENGTH) {
      strings.set(value, this.buffer.slice(at, this.pos));
      cached++;
    }
  }

  string(value: string): void {
    const at = this.begin();
    const length = value.length;
    this.ensure(length);
    const buffer = this.buffer;
    let pos = this.pos;
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 128) {
        // Not ASCII: the platform's UTF-8 encoder, for the whole string.
        this.pos = at + 1;
        this.ensure(length * 3);
        pos = this.pos + encoder.encodeInto(value, this.buffer.subarray(this.pos)).written;
        break;
      }
      buffer[pos++] = code;
    }
    this.pos = pos;
    this.end(at);
  }

  /** Reserves one byte for the length of a length-delimited field that follows; give its result to {@link end}. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Writes the length of the field begun at `at`, moving its bytes when the length needs more than one byte. */
  end(at: number): void {
    const length = this.pos - at - 1;
    if (length < 128) {
      this.buffer[at] = length;
      return;
    }
    let size = 1;
    for (let rest = length >>> 7; rest > 0; rest >>>= 7) size++;
    this.ensure(size - 1);
    this.buffer.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let rest = length;
    let pos = at;
    while (rest > 127) {
      this.buffer[pos++] = (rest & 127) | 128;
      rest >>>= 7;
    }
    this.buffer[pos] = rest;
  }

  /**
   * `attributes` as repeated KeyValue fields numbered `field`. With `cacheValues`, each pair of a key and a short
   * value (a boolean, an integer, a string of at most {@link CACHED_LENGTH} characters: a node's attempt, status,
   * whether it was a cache hit) is encoded once and copied after, because the host writes the same few pairs on
   * every span; without it only the keys are (values that are seldom repeated, such as execution ids).
   */
  attributes(attributes: Attributes, field: number, cacheValues = true): void {
    for (const key in attributes) {
      if (!Object.hasOwn(attributes, key)) continue;
      const value = attributes[key];
      const cacheable =
        cacheValues &&
        (typeof value === "boolean" ||
          (typeof value === "number" && Number.isInteger(value)) ||
          (typeof value === "string" && value.length <= CACHED_LENGTH));
      let values: Map<AttributeValue, Uint8Array> | undefined;
      if (cacheable) {
        values = (field === 9 ? spanPairs : pairs.get(field))?.get(key);
        const known = values?.get(value);
        if (known !== undefined) {
          this.raw(known);
          continue;
        }
      }
      const start = this.pos;
      this.tag(field, 2);
      const at = this.begin();
      this.tag(1, 2);
      this.cachedString(key);
      this.tag(2, 2);
      const valueAt = this.begin();
      if (value !== undefined) this.anyValue(value);
      this.end(valueAt);
      this.end(at);
      if (cacheable && cached < CACHE_LIMIT) {
        if (values === undefined) {
          let keys = field === 9 ? spanPairs : pairs.get(field);
          if (keys === undefined) {
            keys = new Map();
            pairs.set(field, keys);
          }
          values = new Map();
          keys.set(key, values);
        }
        values.set(value, this.buffer.slice(start, this.pos));
        cached++;
      }
    }
  }

  anyValue(value: AttributeValue): void {
    if (typeof value === "string") {
      this.tag(1, 2);
      this.string(value);
    } else if (typeof value === "boolean") {
      this.tag(2, 0);
      this.varint(value ? 1 : 0);
    } else if (typeof value === "number") {
      if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
        this.tag(3, 0);
        this.varint(value);
      } else {
        this.tag(4, 1);
        this.double(value);
      }
    } else if (Array.isArray(value)) {
      this.tag(5, 2);
      const at = this.begin();
      for (const item of value) {
        this.tag(1, 2);
        const itemAt = this.begin();
        if (item !== null && item !== undefined) this.anyValue(item);
        this.end(itemAt);
      }
      this.end(at);
    }
  }

  /** A span or link id given as hex (16 or 32 digits) as bytes. */
  hexBytes(hex: string): void {
    const length = hex.length >>> 1;
    this.varint(length);
    this.ensure(length);
    for (let i = 0; i < length; i++) this.buffer[this.pos++] = Number.parseInt(hex.substr(i * 2, 2), 16);
  }
}

const encoder = new TextEncoder();

/** How many encodings of strings and attribute pairs the process keeps, at most (a few hundred kilobytes). */
const CACHE_LIMIT = 4096;
/** The longest string whose encoding is kept. */
const CACHED_LENGTH = 64;
let cached = 0;
const strings = new Map<string, Uint8Array>();
/** By field number, then key, then value: the encoded KeyValue field. */
const pairs = new Map<number, Map<string, Map<AttributeValue, Uint8Array>>>();
/** The same for a span's attributes (field 9), the ones written most, without the lookup of the field. */
const spanPairs = new Map<string, Map<AttributeValue, Uint8Array>>();
pairs.set(9, spanPairs);

/**
 * A string field (its tag, length and UTF-8 bytes) encoded once and kept, like {@link OtlpWriter.cachedString}'s
 * strings (a span's name: the host's spans have a few names per node of a graph).
 */
export function stringField(field: number, value: string): Uint8Array {
  const known = fields.get(value);
  if (known !== undefined && known[0] === ((field << 3) | 2)) return known;
  scratch.pos = 0;
  scratch.tag(field, 2);
  scratch.string(value);
  const encoded = scratch.buffer.slice(0, scratch.pos);
  if (cached < CACHE_LIMIT && value.length <= CACHED_LENGTH) {
    fields.set(value, encoded);
    cached++;
  }
  return encoded;
}
const fields = new Map<string, Uint8Array>();

/** `attributes` encoded once as the KeyValue fields (number 9) of a Span message, to be copied into many spans. */
export function encodeSpanAttributes(attributes: Attributes): Uint8Array {
  scratch.pos = 0;
  scratch.attributes(attributes, 9, false);
  return kept(scratch.finish());
}

// Encodings kept with spans (an execution's attributes, its trace id) are copied into slabs rather than each into a
// buffer of its own, because an ArrayBuffer per execution showed in the garbage collector's time.
const SLAB = 64 * 1024;
let slab = new Uint8Array(SLAB);
let slabUsed = 0;

/** `length` zero bytes that live as long as whoever keeps them, in a shared slab. */
export function slabBytes(length: number): Uint8Array {
  if (length > SLAB / 8) return new Uint8Array(length);
  if (slabUsed + length > SLAB) {
    slab = new Uint8Array(SLAB);
    slabUsed = 0;
  }
  const bytes = slab.subarray(slabUsed, slabUsed + length);
  slabUsed += length;
  return bytes;
}

/** A copy of `bytes` in a shared slab (see {@link slabBytes}). */
export function kept(bytes: Uint8Array): Uint8Array {
  const copy = slabBytes(bytes.length);
  copy.set(bytes);
  return copy;
}

const scratch = new OtlpWriter(1024);
