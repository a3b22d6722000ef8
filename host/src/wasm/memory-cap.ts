/// <reference path="./webassembly.d.ts" />
/**
 * Caps the linear memory of a WebAssembly module by rewriting the limits its binary declares, so that the engine
 * itself refuses to grow the memory beyond the cap (`memory.grow` returns -1, `malloc` returns NULL) instead of
 * the host noticing afterwards. Platform-free: it reads and writes bytes only, so it runs in Node and in a page.
 */

/** One page of WebAssembly memory: 64 KiB. */
export const WASM_PAGE_BYTES = 65_536;

/** What {@link capMemory} found and did. */
export interface CappedModule {
  bytes: Uint8Array;
  /** Whether the module imports its memory (the host then creates it, with the cap as its maximum). */
  importsMemory: boolean;
  /**
   * How many mutable globals the module defines. clang's modules have one, the stack pointer, which a call that
   * returns normally leaves as it found it; so their instances can be reused with their memory reset.
   */
  mutableGlobals: number;
  /** For an imported memory: where it is imported from, and the limits to create it with. */
  memoryImport?: { module: string; name: string; initialPages: number; maximumPages: number };
  /** The pages the module's memory starts with. */
  initialPages: number;
  /** The maximum now in force, in pages. */
  maximumPages: number;
}

/** A module whose memory cannot be capped: memory64, more than one memory, or an initial size above the cap. */
export class MemoryCapError extends Error {
  override name = "MemoryCapError";
}

/**
 * Gives the module's bytes with every memory's maximum lowered to `capPages` (or kept when the module declares a
 * lower one). Throws {@link MemoryCapError} when the module's initial memory is above the cap.
 */
export function capMemory(bytes: Uint8Array, capPages: number): CappedModule {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d)
    throw new MemoryCapError("is not a WebAssembly binary (no \\0asm magic number)");
  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  let at = 8;
  let result: Omit<CappedModule, "bytes" | "mutableGlobals"> | undefined;
  let mutableGlobals = 0;
  while (at < bytes.length) {
    const id = bytes[at]!;
    const [size, sizeEnd] = readUleb(bytes, at + 1);
    const start = sizeEnd;
    const end = start + size;
    if (end > bytes.length)
      throw new MemoryCapError("is truncated (a section runs past the end of the file)");
    if (id === 5) {
      const rewritten = rewriteMemorySection(bytes.subarray(start, end), capPages);
      result = rewritten.found;
      out.push(Uint8Array.from([5, ...uleb(rewritten.bytes.length), ...rewritten.bytes]));
    } else if (id === 6) {
      mutableGlobals = countMutableGlobals(bytes.subarray(start, end));
      out.push(bytes.subarray(at, end));
    } else if (id === 2) {
      const found = findImportedMemory(bytes.subarray(start, end), capPages);
      if (found !== undefined) result = found;
      out.push(bytes.subarray(at, end));
    } else {
      out.push(bytes.subarray(at, end));
    }
    at = end;
  }
  if (result === undefined)
    return { bytes, importsMemory: false, initialPages: 0, maximumPages: 0, mutableGlobals };
  const total = out.reduce((sum, part) => sum + part.length, 0);
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const part of out) {
    joined.set(part, offset);
    offset += part.length;
  }
  return { bytes: joined, ...result, mutableGlobals };
}

function countMutableGlobals(section: Uint8Array): number {
  let [count, at] = readUleb(section, 0);
  let mutable = 0;
  for (; count > 0; count--) {
    at += 1; // value type
    if (section[at++] === 1) mutable++;
    // The initializer: constant instructions up to `end` (0x0b).
    for (;;) {
      const opcode = section[at++];
      if (opcode === 0x0b || opcode === undefined) break;
      if (opcode === 0x41 || opcode === 0x42 || opcode === 0x23 || opcode === 0xd2)
        at = readSleb(section, at);
      else if (opcode === 0x43) at += 4;
      else if (opcode === 0x44) at += 8;
      else if (opcode === 0xd0) at += 1;
      else if (opcode === 0xfd) at += 17; // v128.const: the prefix's index, then 16 bytes
    }
  }
  return mutable;
}

/** Skips a signed LEB128 number, giving where the next byte is. */
function readSleb(bytes: Uint8Array, at: number): number {
  while ((bytes[at++] ?? 0) & 0x80);
  return at;
}

function rewriteMemorySection(
  section: Uint8Array,
  capPages: number,
): { bytes: number[]; found: Omit<CappedModule, "bytes" | "mutableGlobals"> } {
  const [count, countEnd] = readUleb(section, 0);
  if (count !== 1) throw new MemoryCapError(`declares ${count} memories; one is supported`);
  const limits = readLimits(section, countEnd);
  const maximum = Math.min(limits.maximum ?? capPages, capPages);
  checkInitial(limits.initial, capPages);
  return {
    bytes: [...uleb(1), 0x01, ...uleb(limits.initial), ...uleb(maximum), ...section.subarray(limits.end)],
    found: { importsMemory: false, initialPages: limits.initial, maximumPages: maximum },
  };
}

function findImportedMemory(
  section: Uint8Array,
  capPages: number,
): Omit<CappedModule, "bytes" | "mutableGlobals"> | undefined {
  const decoder = new TextDecoder();
  let [count, at] = readUleb(section, 0);
  let found: Omit<CappedModule, "bytes" | "mutableGlobals"> | undefined;
  for (; count > 0; count--) {
    const [moduleLength, moduleStart] = readUleb(section, at);
    const module = decoder.decode(section.subarray(moduleStart, moduleStart + moduleLength));
    const [nameLength, nameStart] = readUleb(section, moduleStart + moduleLength);
    const name = decoder.decode(section.subarray(nameStart, nameStart + nameLength));
    at = nameStart + nameLength;
    const kind = section[at++];
    if (kind === 0x00) {
      at = readUleb(section, at)[1];
    } else if (kind === 0x01) {
      at += 1; // reference type
      at = readLimits(section, at).end;
    } else if (kind === 0x02) {
      const limits = readLimits(section, at);
      at = limits.end;
      checkInitial(limits.initial, capPages);
      const maximum = Math.min(limits.maximum ?? capPages, capPages);
      found = {
        importsMemory: true,
        memoryImport: { module, name, initialPages: limits.initial, maximumPages: maximum },
        initialPages: limits.initial,
        maximumPages: maximum,
      };
    } else if (kind === 0x03) {
      at += 2; // value type, mutability
    } else if (kind === 0x04) {
      at += 1; // tag attribute
      at = readUleb(section, at)[1];
    } else {
      throw new MemoryCapError(`has an import of unknown kind ${kind}`);
    }
  }
  return found;
}

function checkInitial(initial: number, capPages: number): void {
  if (initial > capPages)
    throw new MemoryCapError(
      `starts with ${mib(initial)} of memory, above its memory cap of ${mib(capPages)}; raise memoryMb or make the module smaller`,
    );
}

function readLimits(bytes: Uint8Array, at: number): { initial: number; maximum?: number; end: number } {
  const flags = bytes[at]!;
  if ((flags & 0x04) !== 0) throw new MemoryCapError("uses 64-bit memory (memory64), which is not supported");
  if ((flags & 0x02) !== 0) throw new MemoryCapError("uses shared memory, which is not supported");
  const [initial, afterInitial] = readUleb(bytes, at + 1);
  if ((flags & 0x01) === 0) return { initial, end: afterInitial };
  const [maximum, end] = readUleb(bytes, afterInitial);
  return { initial, maximum, end };
}

function readUleb(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    if (byte === undefined) throw new MemoryCapError("is truncated (a number runs past the end of the file)");
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [value, at];
  }
}

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Pages as MiB, for messages. */
export function mib(pages: number): string {
  return `${(pages * WASM_PAGE_BYTES) / 1_048_576} MiB`;
}
