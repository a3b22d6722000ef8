import { fileURLToPath } from "node:url";
import { defaultClientConditions, defineConfig } from "vite";

/**
 * Builds the debugger into dist/, which `conductor serve` serves at `/`. `@conductor/sdk` resolves through its
 * "source" condition, so the debugger bundles the same generated API code as the server without building sdk-ts
 * first. `npm run dev -w @conductor/debugger` serves it with live reload against a `conductor serve` on :7070.
 */
export default defineConfig(({ command }) => ({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  resolve: { conditions: ["source", ...defaultClientConditions] },
  // Because Vite decides JSX's development mode from NODE_ENV, which `vite build` here does not set, a build
  // would otherwise carry the development runtime: every element with its source file's absolute path.
  oxc: { jsx: { runtime: "automatic", importSource: "preact", development: command === "serve" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true },
  server: { proxy: { "/conductor.api.v1.ConductorService": "http://127.0.0.1:7070" } },
}));
