#!/usr/bin/env node
// The `conductor` command. A committed file, so that npm links it at install time, before the build exists.
// It runs the bundle of the CLI (scripts/bundle-cli.mjs, part of the set-up and of `npm run build`), which starts
// in about two thirds of the time the unbundled build (host/dist/cli/main.js) takes.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/bundle/main.js", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write(
    "conductor: the command is not built yet; run `npm run setup` (everything) or `npm run build` (TypeScript and the CLI) in the repository\n",
  );
  process.exit(70);
}
await import(bundle.href);
