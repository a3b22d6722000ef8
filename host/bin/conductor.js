#!/usr/bin/env node
// The `conductor` command. A committed file, so that npm links it at install time, before the build exists.
// It runs the bundle of the CLI (scripts/bundle-cli.mjs, part of the set-up and of `npm run build`), which starts
// in about two thirds of the time the unbundled build (host/dist/cli/main.js) takes.
await import("../dist/bundle/main.js");
