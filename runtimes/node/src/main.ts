#!/usr/bin/env node
/**
 * The Node sidecar: serves modules of sdk-ts nodes as a Conductor runtime in a child process of the host.
 *
 *   conductor-runtime-node <module>... [--max-concurrency=N]
 *
 * The host starts it (docs/protocol.md); started by hand it says what it is and exits with status 2.
 */
import { loadNodeModules } from "@conductor/sdk/load";
import { serveRuntime } from "@conductor/sdk/serve";
import { startSidecar } from "./sidecar.js";

await startSidecar(process.argv.slice(2), { loadNodeModules, serveRuntime });
