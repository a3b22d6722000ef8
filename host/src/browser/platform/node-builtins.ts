/**
 * What a page gets for the Node built-ins that the host's core imports but uses only on Node-only paths (files,
 * blobs, worker threads, node module loading, result-cache hashes): the names exist so that the modules load, and
 * calling one says plainly that it is not available in a page. The few that have a browser equivalent (paths,
 * UUIDs, timers) have one. Mapped by scripts/browser-build.mjs; a Node built-in not listed there fails the build.
 */

function unavailable(what: string): never {
  throw new Error(
    `${what} is not available in a browser page (the engine's browser build bundles only its core)`,
  );
}

const refuse =
  (what: string) =>
  (..._args: unknown[]): never =>
    unavailable(what);

// node:crypto
export const createHash = refuse("crypto.createHash (result caching, blob hashes)");
export const createCipheriv = refuse("crypto.createCipheriv (project secrets)");
export const createDecipheriv = refuse("crypto.createDecipheriv (project secrets)");
export const randomBytes = refuse("crypto.randomBytes");
export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}

// node:fs, node:fs/promises
export const open = refuse("fs.open (blueprint files)");
export const existsSync = refuse("fs.existsSync");
export const readFileSync = refuse("fs.readFileSync");
export const writeFileSync = refuse("fs.writeFileSync");
export const mkdirSync = refuse("fs.mkdirSync");
export const renameSync = refuse("fs.renameSync");
export const statSync = refuse("fs.statSync");
export const chmodSync = refuse("fs.chmodSync");
export const openSync = refuse("fs.openSync");
export const closeSync = refuse("fs.closeSync");
export const readSync = refuse("fs.readSync (blob previews)");
export const createReadStream = refuse("fs.createReadStream (blob values)");

// node:path (POSIX, enough for messages)
export function join(...parts: string[]): string {
  return parts
    .filter((part) => part !== "")
    .join("/")
    .replace(/\/+/g, "/");
}
export function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
export function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? (slash === 0 ? "/" : ".") : path.slice(0, slash);
}
export function resolve(...parts: string[]): string {
  return join(...parts);
}

// node:url
/** Names of bundled packages (`bundled:apache-arrow`, see node-globals.ts) pass; a page has no file URLs. */
export function fileURLToPath(url: string | URL): string {
  if (typeof url === "string" && url.startsWith("bundled:")) return url;
  return unavailable("url.fileURLToPath");
}
export const pathToFileURL = refuse("url.pathToFileURL");

// node:vm, node:worker_threads
export const compileFunction = refuse("vm.compileFunction (loading node modules from files)");
export class Worker {
  constructor() {
    unavailable("worker_threads.Worker (off-thread blueprint parsing)");
  }
}

// node:timers/promises
function sleep<T>(ms: number, value?: T, options: { signal?: AbortSignal } = {}): Promise<T | undefined> {
  return new Promise((done, fail) => {
    const signal = options.signal;
    if (signal?.aborted) {
      fail(signal.reason);
      return;
    }
    const timer = globalThis.setTimeout(() => done(value), ms);
    signal?.addEventListener(
      "abort",
      () => {
        globalThis.clearTimeout(timer);
        fail(signal.reason);
      },
      { once: true },
    );
  });
}

export { sleep as setTimeout };
