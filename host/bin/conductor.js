#!/usr/bin/env node
// The `conductor` command. A committed file, so that npm links it at install time, before the build exists.
await import("../dist/cli/main.js");
