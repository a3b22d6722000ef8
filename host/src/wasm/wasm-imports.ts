/// <reference path="./webassembly.d.ts" />
/**
 * What a WebAssembly node may import: a deny-by-default WASI preview 1 (`wasi_snapshot_preview1`) and the
 * AssemblyScript `env.abort`. No file, socket or directory is ever open to a module (it has no preopened
 * directory, so every `path_open` fails with ENOTCAPABLE); stdout and stderr become the node's log; the clock and
 * random numbers answer only when the project grants them. Platform-free: it runs in Node and in a page.
 */

/** Capabilities a project may grant a module (conductor.yaml `grant`). */
export type WasmGrant = "clock" | "random";

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_INVAL = 28;
const ERRNO_NOSYS = 52;
const ERRNO_NOTCAPABLE = 76;

/** Thrown by `proc_exit` and `abort` to unwind out of the module. */
export class ModuleExit extends Error {
  override name = "ModuleExit";
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** The state one instance's imports share: its memory (set once instantiated) and what it wrote. */
export interface ImportState {
  memory: WebAssembly.Memory | undefined;
  logs: { level: "info" | "warn"; message: string }[];
}

/**
 * The import object for one instance. `moduleImports` is `WebAssembly.Module.imports(module)`: every function
 * the module imports from WASI gets an answer (ENOSYS for the ones not listed here); an import from anywhere else
 * is refused with the name of what is missing.
 */
export function createImports(
  moduleImports: readonly WebAssembly.ModuleImportDescriptor[],
  grants: ReadonlySet<WasmGrant>,
  state: ImportState,
  memory: { module: string; name: string; memory: WebAssembly.Memory } | undefined,
): WebAssembly.Imports {
  const view = () => new DataView(state.memory!.buffer);
  const bytes = () => new Uint8Array(state.memory!.buffer);
  const pending: Record<number, string> = { 1: "", 2: "" };
  const wasi: Record<string, (...args: never[]) => number> = {
    args_sizes_get: (count: number, size: number) => zeroPair(view(), count, size),
    environ_sizes_get: (count: number, size: number) => zeroPair(view(), count, size),
    args_get: () => ERRNO_SUCCESS,
    environ_get: () => ERRNO_SUCCESS,
    fd_write: (fd: number, iovs: number, iovsLength: number, written: number) => {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const data = view();
      let total = 0;
      let text = "";
      for (let i = 0; i < iovsLength; i++) {
        const pointer = data.getUint32(iovs + i * 8, true);
        const length = data.getUint32(iovs + i * 8 + 4, true);
        text += new TextDecoder().decode(bytes().subarray(pointer, pointer + length));
        total += length;
      }
      const lines = (pending[fd] + text).split("\n");
      pending[fd] = lines.pop() ?? "";
      for (const line of lines) state.logs.push({ level: fd === 1 ? "info" : "warn", message: line });
      data.setUint32(written, total, true);
      return ERRNO_SUCCESS;
    },
    fd_fdstat_get: (fd: number, stat: number) => {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const data = view();
      for (let i = 0; i < 24; i++) data.setUint8(stat + i, 0);
      data.setUint8(stat, 2); // character device
      return ERRNO_SUCCESS;
    },
    fd_close: (fd: number) => (fd <= 2 ? ERRNO_SUCCESS : ERRNO_BADF),
    fd_seek: () => ERRNO_BADF,
    fd_read: () => ERRNO_BADF,
    fd_prestat_get: () => ERRNO_BADF,
    fd_prestat_dir_name: () => ERRNO_BADF,
    path_open: () => ERRNO_NOTCAPABLE,
    sched_yield: () => ERRNO_SUCCESS,
    proc_exit: (code: number) => {
      throw new ModuleExit(`called proc_exit(${code})`, code);
    },
    clock_res_get: (_id: number, resolution: number) => {
      if (!grants.has("clock")) return ERRNO_NOTCAPABLE;
      view().setBigUint64(resolution, 1000n, true);
      return ERRNO_SUCCESS;
    },
    clock_time_get: (id: number, _precision: bigint, time: number) => {
      if (!grants.has("clock")) return ERRNO_NOTCAPABLE;
      const nanos =
        id === 0
          ? BigInt(Date.now()) * 1_000_000n
          : BigInt(Math.round(performance.now() * 1_000_000)) + 1_000_000_000n;
      view().setBigUint64(time, nanos, true);
      return ERRNO_SUCCESS;
    },
    random_get: (buffer: number, length: number) => {
      if (!grants.has("random")) return ERRNO_NOTCAPABLE;
      if (length < 0) return ERRNO_INVAL;
      for (let at = 0; at < length; at += 65_536)
        crypto.getRandomValues(bytes().subarray(buffer + at, buffer + Math.min(length, at + 65_536)));
      return ERRNO_SUCCESS;
    },
  };
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  const missing: string[] = [];
  for (const descriptor of moduleImports) {
    imports[descriptor.module] ??= {};
    const target = imports[descriptor.module]!;
    if (memory !== undefined && descriptor.module === memory.module && descriptor.name === memory.name) {
      target[descriptor.name] = memory.memory;
    } else if (descriptor.module === "wasi_snapshot_preview1" && descriptor.kind === "function") {
      target[descriptor.name] = (wasi[descriptor.name] ?? (() => ERRNO_NOSYS)) as WebAssembly.ImportValue;
    } else if (descriptor.module === "env" && descriptor.name === "abort" && descriptor.kind === "function") {
      // AssemblyScript's abort(message, file, line, column), with its strings as UTF-16 in memory.
      target.abort = (message: number, file: number, line: number, column: number) => {
        throw new ModuleExit(
          `aborted: ${readAssemblyScriptString(state, message)} at ${readAssemblyScriptString(state, file)}:${line}:${column}`,
          1,
        );
      };
    } else if (descriptor.module === "env" && descriptor.name === "seed" && descriptor.kind === "function") {
      target.seed = () => {
        if (!grants.has("random"))
          throw new ModuleExit("asked for a random seed, and the project does not grant it random", 1);
        return Math.random() * 2 ** 52;
      };
    } else {
      missing.push(`${descriptor.module}.${descriptor.name} (${descriptor.kind})`);
    }
  }
  if (missing.length > 0)
    throw new ModuleImportError(
      `imports ${missing.join(", ")}, which Conductor does not provide; a module may import WASI preview 1 (wasi_snapshot_preview1), env.abort and env.seed only`,
    );
  return imports;
}

/** A module importing something the sandbox does not provide. */
export class ModuleImportError extends Error {
  override name = "ModuleImportError";
}

function zeroPair(view: DataView, count: number, size: number): number {
  view.setUint32(count, 0, true);
  view.setUint32(size, 0, true);
  return ERRNO_SUCCESS;
}

function readAssemblyScriptString(state: ImportState, pointer: number): string {
  if (pointer === 0 || state.memory === undefined) return "?";
  const view = new DataView(state.memory.buffer);
  const length = view.getUint32(pointer - 4, true);
  return new TextDecoder("utf-16le").decode(new Uint8Array(state.memory.buffer, pointer, length));
}
