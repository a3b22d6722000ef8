import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { repositoryPath } from "../package-dir.js";
import { capMemory, MemoryCapError } from "./memory-cap.js";

const faulty = () => readFile(repositoryPath("test", "wasm", "fixtures", "faulty.wasm"));

describe("capMemory()", () => {
  it("writes the cap into the module, so that the engine refuses to grow memory beyond it", async () => {
    const capped = capMemory(new Uint8Array(await faulty()), 64);
    expect(capped.importsMemory).toBe(false);
    expect(capped.maximumPages).toBe(64);
    const module = await WebAssembly.compile(capped.bytes as Uint8Array<ArrayBuffer>);
    const imports: Record<string, Record<string, () => number>> = {};
    for (const entry of WebAssembly.Module.imports(module)) {
      imports[entry.module] ??= {};
      imports[entry.module]![entry.name] = () => 52;
    }
    const instance = await WebAssembly.instantiate(module, imports);
    const memory = instance.exports.memory as WebAssembly.Memory;
    const pages = memory.buffer.byteLength / 65_536;
    expect(memory.grow(64 - pages)).toBe(pages);
    expect(() => memory.grow(1)).toThrow(RangeError);
  });

  it("keeps a lower maximum the module declares", async () => {
    const once = capMemory(new Uint8Array(await faulty()), 40);
    expect(capMemory(once.bytes, 100).maximumPages).toBe(40);
  });

  it("refuses a module that starts with more memory than the cap, saying both", async () => {
    const bytes = new Uint8Array(await faulty());
    const initial = capMemory(bytes, 1000).initialPages;
    expect(() => capMemory(bytes, initial - 1)).toThrow(
      new MemoryCapError(
        `starts with ${(initial * 65_536) / 1_048_576} MiB of memory, above its memory cap of ${((initial - 1) * 65_536) / 1_048_576} MiB; raise memoryMb or make the module smaller`,
      ),
    );
  });

  it("refuses bytes that are not WebAssembly", () => {
    expect(() => capMemory(new TextEncoder().encode("not wasm at all"), 10)).toThrow(
      "is not a WebAssembly binary (no \\0asm magic number)",
    );
  });
});
