// Bundles the `conductor` command into host/dist/bundle, after `tsc -b`, so that a cold `conductor run` loads a few
// files instead of ~320 modules (module resolution and loading was most of its start-up time).
//
// - Subcommands stay separate chunks, loaded only when used, as in the unbundled build.
// - zod stays external: node modules written by users import it too, and sharing one copy keeps one registry
//   of schema metadata. Packages the host loads on demand with require() (apache-arrow, ajv, jsonata, mustache)
//   are not seen by the bundler and load from node_modules as before.
// - The bundle finds the files shipped beside the host (runtimes, the debugger) from host/package.json
//   (host/src/package-dir.ts), so its location does not matter.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "host", "dist", "bundle");
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: join(root, "host", "dist", "cli", "main.js") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  // BullMQ and ioredis stay external too: they are loaded only with Redis, and they require() optional peers
  // (pg, @valkey/valkey-glide, supports-color) that a bundle would turn into imports nobody provides.
  // pino too: it is loaded only for --log-format json, and it finds its worker files (transports) by path.
  external: ["zod", "bullmq", "ioredis", "pino"],
  // CommonJS packages inside an ES module bundle still call require().
  banner: {
    js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
  },
  logLevel: "warning",
});
