import { readFileSync } from "node:fs";
import * as nodeModule from "node:module";
import { fileURLToPath } from "node:url";
import { compileFunction } from "node:vm";

/**
 * The messages of the SyntaxErrors that code written as an ES module gets when compiled as CommonJS: the ones
 * Node's own module-syntax detection retries as ESM on, plus top-level `await`.
 */
const ESM_ONLY_SYNTAX = new Set([
  "Cannot use import statement outside a module",
  "Unexpected token 'export'",
  "Cannot use 'import.meta' outside a module",
  "await is only valid in async functions and the top level bodies of modules",
]);

let registered = false;

/**
 * Lets a project whose package.json says `"type": "commonjs"` (what `npm init -y` writes) load node modules
 * written with `import`/`export`, as TypeScript authors write them. Node decides a file's format from the nearest
 * package.json alone, so such a file fails with "Cannot use import statement outside a module"; this hook looks at
 * what the file contains instead, like TypeScript's module detection and Node's own detection for packages that
 * declare no type: a file of the project (not under node_modules) that Node would load as CommonJS but that only
 * compiles as an ES module is loaded as one. Files that are CommonJS (`require`, `module.exports`) stay CommonJS.
 *
 * Called by {@link loadNodeModules} before it imports anything; registering twice does nothing. Needs
 * `module.registerHooks` (Node >= 22.15); on older Node it does nothing and such files fail as before.
 */
export function registerModuleFormatHook(): void {
  // Because `registerHooks` is missing before Node 22.15, it is looked up on the namespace, never imported by name
  // (a named import of a missing export fails the whole module on load).
  const registerHooks = (nodeModule as Partial<typeof nodeModule>).registerHooks;
  if (registered || registerHooks === undefined) return;
  registered = true;
  registerHooks({
    // A module loaded afresh (loadNodeModules' `reload`) passes its generation on to the project files it imports,
    // so that an edit to a helper module is seen too; packages under node_modules stay shared.
    resolve(specifier, context, nextResolve) {
      const result = nextResolve(specifier, context);
      const generation = reloadOf(context.parentURL);
      if (
        generation === undefined ||
        !result.url.startsWith("file:") ||
        result.url.includes("/node_modules/") ||
        result.url.includes("?")
      ) {
        return result;
      }
      return { ...result, url: withReload(result.url, generation) };
    },
    load(url, context, nextLoad) {
      const result = nextLoad(url, context);
      const format = result.format;
      if (
        (format !== "commonjs" && format !== "commonjs-typescript") ||
        !url.startsWith("file:") ||
        url.includes("/node_modules/")
      ) {
        return result;
      }
      const source = result.source ?? readFileSync(fileURLToPath(url));
      if (!isModuleSyntax(String(source), format === "commonjs-typescript")) return result;
      return { format: format === "commonjs" ? "module" : "module-typescript", source, shortCircuit: true };
    },
  });
}

const RELOAD_PARAMETER = "conductor-reload";

/** A file URL marked as a new generation of the module, which Node imports afresh (its cache is by URL). */
export function withReload(url: string, generation: string | number): string {
  return `${url}?${RELOAD_PARAMETER}=${encodeURIComponent(String(generation))}`;
}

function reloadOf(url: string | undefined): string | undefined {
  if (url === undefined || !url.startsWith("file:") || !url.includes("?")) return undefined;
  return new URL(url).searchParams.get(RELOAD_PARAMETER) ?? undefined;
}

/** Whether code compiles only as an ES module: it fails as CommonJS with an error only module syntax causes. */
function isModuleSyntax(code: string, typescript: boolean): boolean {
  let javascript = code;
  if (typescript) {
    const strip = (nodeModule as Partial<typeof nodeModule>).stripTypeScriptTypes;
    if (strip === undefined) return false;
    javascript = quietly(() => strip(code));
  }
  try {
    compileFunction(javascript, ["exports", "require", "module", "__filename", "__dirname"]);
    return false;
  } catch (error) {
    return error instanceof SyntaxError && ESM_ONLY_SYNTAX.has(error.message);
  }
}

/**
 * Runs `fn` without the ExperimentalWarning `stripTypeScriptTypes` prints on first use: because the host's output
 * (`--json` in particular) is read by programs, a warning about an internal detail must not appear in it.
 */
function quietly<T>(fn: () => T): T {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return fn();
  } finally {
    process.emitWarning = emitWarning;
  }
}
