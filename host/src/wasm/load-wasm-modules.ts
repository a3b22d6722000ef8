import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { toLive } from "@conductor/sdk/protocol";
import { ConductorError } from "../errors.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import { capMemory, WASM_PAGE_BYTES } from "./memory-cap.js";
import { createNodeWorkerExecutor } from "./node-worker-executor.js";
import type { WasmGrant } from "./wasm-imports.js";
import { manifestPathOf, parseWasmManifest } from "./wasm-manifest.js";
import { createWasmRuntime, type LoadedWasmModule } from "./wasm-runtime.js";

/** A `kind: wasm` runtime of conductor.yaml (docs/project.md, docs/webassembly.md). */
export interface WasmRuntimeSpec {
  kind: "wasm";
  modules: string[];
  memoryMb?: number | undefined;
  timeLimitMs?: number | undefined;
  grant?: WasmGrant[] | undefined;
  maxConcurrency?: number | undefined;
}

/** Defaults of a wasm runtime: 64 MiB of memory per instance, 30 s per call, two worker threads. */
export const WASM_DEFAULTS = { memoryMb: 64, timeLimitMs: 30_000, maxConcurrency: 2 } as const;

/**
 * Reads, caps and compiles a project's WebAssembly modules with their manifests. A module or manifest that is
 * missing or wrong fails with its path and what is wrong, as a `project_invalid` error.
 */
export async function loadWasmModules(
  runtime: string,
  spec: WasmRuntimeSpec,
  projectDir: string,
): Promise<LoadedWasmModule[]> {
  const capPages = Math.floor(((spec.memoryMb ?? WASM_DEFAULTS.memoryMb) * 1_048_576) / WASM_PAGE_BYTES);
  return Promise.all(
    spec.modules.map(async (path) => {
      const where = `runtime "${runtime}": wasm module ${path}`;
      const file = resolve(projectDir, path);
      const manifestFile = manifestPathOf(file);
      // Both are read at once, but the module's own failure is the one reported when both are missing.
      const [bytesRead, manifestRead] = await Promise.allSettled([
        readFile(file),
        readFile(manifestFile, "utf8"),
      ]);
      if (bytesRead.status === "rejected") {
        throw new ConductorError(
          "project_invalid",
          `${where} cannot be read: ${(bytesRead.reason as Error).message}`,
        );
      }
      if (manifestRead.status === "rejected") {
        throw new ConductorError(
          "project_invalid",
          `${where} has no readable manifest ${manifestPathOf(path)} (${(manifestRead.reason as Error).message}); every module needs one declaring its node types (docs/webassembly.md)`,
        );
      }
      const bytes = bytesRead.value;
      const manifest = manifestRead.value;
      try {
        const nodeTypes = parseWasmManifest(manifest, manifestPathOf(path));
        const capped = capMemory(new Uint8Array(bytes), capPages);
        const module = await WebAssembly.compile(capped.bytes as Uint8Array<ArrayBuffer>);
        return {
          nodeTypes,
          plan: {
            name: path,
            module,
            maximumPages: capped.maximumPages || capPages,
            ...(capped.memoryImport === undefined ? {} : { memoryImport: capped.memoryImport }),
            grants: spec.grant ?? [],
            reusable: capped.mutableGlobals <= 1,
          },
        };
      } catch (error) {
        throw new ConductorError("project_invalid", `${where} ${(error as Error).message}`, { cause: error });
      }
    }),
  );
}

/** The Node host's wasm runtime: the project's modules, run in worker threads. */
export async function startWasmRuntime(
  name: string,
  spec: WasmRuntimeSpec,
  projectDir: string,
): Promise<RuntimeConnection> {
  const modules = await loadWasmModules(name, spec, projectDir);
  const maxConcurrency = spec.maxConcurrency ?? WASM_DEFAULTS.maxConcurrency;
  return createWasmRuntime({
    name,
    modules,
    executor: createNodeWorkerExecutor({ size: maxConcurrency }),
    timeLimitMs: spec.timeLimitMs ?? WASM_DEFAULTS.timeLimitMs,
    maxConcurrency,
    toLive,
  });
}
