import { mib, WASM_PAGE_BYTES } from "./memory-cap.js";
import {
  createImports,
  type ImportState,
  ModuleExit,
  ModuleImportError,
  type WasmGrant,
} from "./wasm-imports.js";

/**
 * Conductor's WebAssembly ABI (docs/webassembly.md), one call: a fresh instance of the module, the request
 * written into its memory as JSON, the node's export called, the answer read back. Platform-free: the same code
 * runs in a Node worker thread, in a Web Worker and in a page, so a node gives the same result everywhere.
 *
 * A module exports `memory`, `conductor_alloc(size: i32) -> i32` and one function per node type,
 * `(request: i32, length: i32) -> i64`, whose result packs the answer's address (high 32 bits) and length (low
 * 32 bits). The request is `{"config": ..., "inputs": {...}}`; the answer `{"outputs": {...}}` or
 * `{"failure": {"message": ..., "type": ..., "retryable": ...}}`. An input or output port value that is bytes
 * travels as `{"$bytes": {"ptr": p, "len": n}}` pointing into the module's memory, so a 64 MB buffer is copied
 * once and never turned into text.
 */

/** A compiled module and the limits to run it with. */
export interface WasmModulePlan {
  /** The module's name for messages: its path in the project, e.g. "wasm/checksum.wasm". */
  name: string;
  module: WebAssembly.Module;
  /** The memory cap in pages (already written into the module's binary by capMemory). */
  maximumPages: number;
  /** For a module importing its memory: where from and the limits the host creates it with. */
  memoryImport?: { module: string; name: string; initialPages: number; maximumPages: number };
  grants: readonly WasmGrant[];
  /** Whether an instance may serve several calls, its memory reset between them (see {@link runWasmCall}). */
  reusable?: boolean;
}

/** One node invocation: which export, and the node's config and inputs (live values). */
export interface WasmCall {
  exportName: string;
  config: unknown;
  inputs: Record<string, unknown>;
}

/** Why a call failed, by cause; `message` names the module and the limit involved. */
export interface WasmFault {
  kind: "trap" | "memory" | "exports" | "imports" | "malformed" | "exit" | "failure" | "timeout";
  message: string;
  /** For `failure`: what the module said about itself. */
  type?: string;
  retryable?: boolean;
}

export type WasmCallResult =
  | { ok: true; outputs: Record<string, unknown>; logs: ImportState["logs"] }
  | { ok: false; fault: WasmFault; logs: ImportState["logs"] };

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** An instance kept for the next call of its module in this thread, with its memory as it was after start-up. */
interface WarmInstance {
  instance: WebAssembly.Instance;
  memory: WebAssembly.Memory;
  state: ImportState;
  snapshot: Uint8Array | undefined;
}

// Per thread: each worker keeps at most one idle instance per module.
const warm = new Map<WasmModulePlan, WarmInstance>();

/**
 * Runs one call; never throws (every problem is a {@link WasmFault}). A module marked `reusable` (its only mutable
 * global is the stack pointer, as with clang) runs in an instance kept from its previous call, whose memory is
 * reset to what it was after start-up, because creating an instance costs about a millisecond (V8 reserves its
 * memory's address space each time) and a reset costs microseconds; an instance whose call failed or whose memory
 * grew is dropped. Other modules get a fresh instance per call.
 */
export async function runWasmCall(plan: WasmModulePlan, call: WasmCall): Promise<WasmCallResult> {
  let entry = warm.get(plan);
  warm.delete(plan);
  const logs: ImportState["logs"] = [];
  const fault = (kind: WasmFault["kind"], message: string): WasmCallResult => ({
    ok: false,
    fault: { kind, message: `wasm module "${plan.name}" ${message}` },
    logs,
  });
  if (entry === undefined) {
    const created = await createInstance(plan, logs);
    if ("fault" in created) return fault(created.fault.kind, created.fault.message);
    entry = created;
  }
  entry.state.logs = logs;
  const { memory } = entry;
  const exports = entry.instance.exports;
  const run = exports[call.exportName];
  if (typeof run !== "function")
    return fault(
      "exports",
      `does not export ${call.exportName} (a function (i32, i32) -> i64); it exports ${Object.keys(exports).join(", ") || "nothing"}. A Conductor module exports memory, conductor_alloc and one function per node type (docs/webassembly.md)`,
    );
  const allocate = exports.conductor_alloc as (size: number) => number;
  try {
    const request: Record<string, unknown> = {};
    for (const [port, value] of Object.entries(call.inputs)) {
      if (value instanceof Uint8Array) {
        const pointer = allocateIn(allocate, memory, value.length, plan);
        new Uint8Array(memory.buffer, pointer, value.length).set(value);
        request[port] = { $bytes: { ptr: pointer, len: value.length } };
      } else {
        request[port] = value;
      }
    }
    const text = encoder.encode(JSON.stringify({ config: call.config ?? {}, inputs: request }, bigintAsText));
    const pointer = allocateIn(allocate, memory, text.length, plan);
    new Uint8Array(memory.buffer, pointer, text.length).set(text);
    const packed = (run as (pointer: number, length: number) => unknown)(pointer, text.length);
    if (typeof packed !== "bigint")
      return fault(
        "malformed",
        `export ${call.exportName} returned ${typeof packed}, expected an i64 packing the answer's address and length`,
      );
    const answer = readAnswer(plan, call, memory, packed);
    if (answer.ok && entry.snapshot !== undefined && memory.buffer.byteLength === entry.snapshot.length) {
      new Uint8Array(memory.buffer).set(entry.snapshot);
      warm.set(plan, entry);
    }
    return { ...answer, logs };
  } catch (error) {
    return trapFault(error, memory, plan, fault);
  }
}

/** A new instance of the module, its exports checked and its start-up (`_initialize`) run. */
async function createInstance(
  plan: WasmModulePlan,
  logs: ImportState["logs"],
): Promise<WarmInstance | { fault: WasmFault }> {
  const state: ImportState = { memory: undefined, logs };
  let instance: WebAssembly.Instance;
  try {
    const memory =
      plan.memoryImport === undefined
        ? undefined
        : {
            module: plan.memoryImport.module,
            name: plan.memoryImport.name,
            memory: new WebAssembly.Memory({
              initial: plan.memoryImport.initialPages,
              maximum: plan.memoryImport.maximumPages,
            }),
          };
    const imports = createImports(
      WebAssembly.Module.imports(plan.module),
      new Set(plan.grants),
      state,
      memory,
    );
    instance = await WebAssembly.instantiate(plan.module, imports);
    state.memory = memory?.memory ?? (instance.exports.memory as WebAssembly.Memory | undefined);
  } catch (error) {
    if (error instanceof ModuleImportError) return { fault: { kind: "imports", message: error.message } };
    return { fault: { kind: "trap", message: `could not be instantiated: ${(error as Error).message}` } };
  }
  const exports = instance.exports;
  const missing: string[] = [];
  if (!(state.memory instanceof WebAssembly.Memory)) missing.push("memory (a memory)");
  if (typeof exports.conductor_alloc !== "function")
    missing.push("conductor_alloc (a function (i32) -> i32)");
  if (missing.length > 0) {
    const found = Object.keys(exports).join(", ") || "nothing";
    return {
      fault: {
        kind: "exports",
        message: `does not export ${missing.join(", ")}; it exports ${found}. A Conductor module exports memory, conductor_alloc and one function per node type (docs/webassembly.md)`,
      },
    };
  }
  const memory = state.memory as WebAssembly.Memory;
  try {
    if (typeof exports._initialize === "function") (exports._initialize as () => void)();
  } catch (error) {
    const result = trapFault(error, memory, plan, (kind, message) => ({
      ok: false,
      fault: { kind, message: `${message} while starting (_initialize)` },
      logs,
    }));
    return { fault: (result as { fault: WasmFault }).fault };
  }
  return {
    instance,
    memory,
    state,
    snapshot: plan.reusable === true ? new Uint8Array(memory.buffer).slice() : undefined,
  };
}

function trapFault(
  error: unknown,
  memory: WebAssembly.Memory,
  plan: WasmModulePlan,
  fault: (kind: WasmFault["kind"], message: string) => WasmCallResult,
): WasmCallResult {
  if (error instanceof AllocationError) return fault("memory", error.message);
  if (error instanceof ModuleExit) {
    if (nearCap(memory, plan))
      return fault("memory", `${error.message} with its memory at its cap of ${mib(plan.maximumPages)}`);
    return fault("exit", error.message);
  }
  const message = (error as Error).message;
  if (nearCap(memory, plan))
    return fault(
      "memory",
      `trapped (${message}) with its memory at its cap of ${mib(plan.maximumPages)}: it most likely ran out of memory; raise memoryMb or give it less data`,
    );
  if (error instanceof RangeError) return fault("trap", `overflowed its stack (${message})`);
  return fault("trap", `trapped: ${message}`);
}

function readAnswer(
  plan: WasmModulePlan,
  call: WasmCall,
  memory: WebAssembly.Memory,
  packed: bigint,
): { ok: true; outputs: Record<string, unknown> } | { ok: false; fault: WasmFault } {
  const malformed = (message: string) => ({
    ok: false as const,
    fault: { kind: "malformed" as const, message: `wasm module "${plan.name}" ${message}` },
  });
  const pointer = Number((packed >> 32n) & 0xffffffffn);
  const length = Number(packed & 0xffffffffn);
  if (pointer + length > memory.buffer.byteLength)
    return malformed(
      `export ${call.exportName} answered with bytes ${pointer}..${pointer + length}, beyond its memory of ${memory.buffer.byteLength} bytes`,
    );
  let answer: unknown;
  try {
    answer = JSON.parse(decoder.decode(new Uint8Array(memory.buffer, pointer, length)));
  } catch (error) {
    return malformed(
      `export ${call.exportName} answered with text that is not JSON: ${(error as Error).message}`,
    );
  }
  if (typeof answer !== "object" || answer === null || Array.isArray(answer))
    return malformed(
      `export ${call.exportName} answered ${show(answer)}, expected {"outputs": {...}} or {"failure": {...}}`,
    );
  const { outputs, failure } = answer as { outputs?: unknown; failure?: unknown };
  if (failure !== undefined) {
    const info = (typeof failure === "object" && failure !== null ? failure : {}) as Record<string, unknown>;
    return {
      ok: false,
      fault: {
        kind: "failure",
        message: typeof info.message === "string" ? info.message : show(failure),
        type: typeof info.type === "string" ? info.type : "wasm.failure",
        retryable: info.retryable === true,
      },
    };
  }
  if (typeof outputs !== "object" || outputs === null || Array.isArray(outputs))
    return malformed(
      `export ${call.exportName} answered ${show(answer)}, expected {"outputs": {...}} or {"failure": {...}}`,
    );
  const live: Record<string, unknown> = {};
  for (const [port, value] of Object.entries(outputs)) {
    const reference = (value as { $bytes?: { ptr?: unknown; len?: unknown } } | null)?.$bytes;
    if (reference === undefined) {
      live[port] = value;
      continue;
    }
    const { ptr, len } = reference;
    if (
      typeof ptr !== "number" ||
      typeof len !== "number" ||
      ptr < 0 ||
      len < 0 ||
      ptr + len > memory.buffer.byteLength
    )
      return malformed(`output "${port}" is a $bytes reference outside its memory: ${show(value)}`);
    live[port] = new Uint8Array(memory.buffer.slice(ptr, ptr + len));
  }
  return { ok: true, outputs: live };
}

class AllocationError extends Error {}

function allocateIn(
  allocate: (size: number) => number,
  memory: WebAssembly.Memory,
  size: number,
  plan: WasmModulePlan,
): number {
  const pointer = allocate(size);
  if (pointer === 0 || pointer + size > memory.buffer.byteLength)
    throw new AllocationError(
      `could not allocate ${size} bytes for the request within its memory cap of ${mib(plan.maximumPages)} (conductor_alloc returned ${pointer}); raise memoryMb or send less data`,
    );
  return pointer;
}

/** Whether the memory is within 1 MiB of its cap, so that a trap most likely comes from a failed allocation. */
function nearCap(memory: WebAssembly.Memory, plan: WasmModulePlan): boolean {
  return memory.buffer.byteLength + 16 * WASM_PAGE_BYTES >= plan.maximumPages * WASM_PAGE_BYTES;
}

function bigintAsText(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
