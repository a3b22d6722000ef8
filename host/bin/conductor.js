#!/usr/bin/env node
// The `conductor` command. A committed file, so that npm links it at install time, before the build exists.
// It checks the version of Node first (./node-version.js), because the bundle's imports fail on an older Node with
// a SyntaxError that says nothing useful; then it runs the bundle of the CLI (scripts/bundle-cli.mjs, part of the
// set-up and of `npm run build`), which starts in about two thirds of the time the unbundled build takes.
import { existsSync } from "node:fs";
import { nodeVersionProblem } from "./node-version.js";

const problem = nodeVersionProblem(process.versions.node, process.execPath);
if (problem !== undefined) {
  process.stderr.write(`conductor: ${problem}\n`);
  process.exit(1);
}

const bundle = new URL("../dist/bundle/main.js", import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write(
    "conductor: the command is not built yet; run `npm run setup` (everything) or `npm run build` (TypeScript and the CLI) in the repository\n",
  );
  process.exit(70);
}
await import(bundle.href);
