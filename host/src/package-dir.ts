import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let found: string | undefined;

/**
 * The directory of the `@conductor/host` package this code belongs to, found by walking up from this module. The
 * same code runs from the sources (`host/src`), from the build (`host/dist/...`) and from the CLI bundle
 * (`host/dist/bundle`), each at a different depth, so paths to the files shipped beside the host (the debugger's
 * build, the runtimes of this repository) start from here rather than from a count of `..`.
 */
export function hostPackageDir(): string {
  if (found !== undefined) return found;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "@conductor/host"
    ) {
      found = dir;
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no @conductor/host package.json above ${start}`);
  }
}

/** A path inside this repository's checkout (the directory holding `host/`), e.g. `runtimes/node/dist/main.js`. */
export function repositoryPath(...segments: string[]): string {
  return join(hostPackageDir(), "..", ...segments);
}
