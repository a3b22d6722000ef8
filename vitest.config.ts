import { defineConfig } from "vitest/config";

// One vitest run, one project per suite: unit tests beside the code (the debugger's too), then conformance and
// end-to-end.
// Imports of the workspace packages prefer their "source" export condition; the CLI, the Node sidecar and the
// end-to-end tests run the built code, so `tsc -b` runs first (npm test does); the end-to-end project re-bundles
// the CLI from that build before it starts.
const shared = { resolve: { conditions: ["source"] } };

export default defineConfig({
  ...shared,
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    projects: [
      { ...shared, test: { name: "sdk", include: ["sdk-ts/src/**/*.test.ts"] } },
      { ...shared, test: { name: "host", include: ["host/src/**/*.test.ts"] } },
      { ...shared, test: { name: "runtime-node", include: ["runtimes/node/src/**/*.test.ts"] } },
      { ...shared, test: { name: "debugger", include: ["host/debugger/src/**/*.test.ts"] } },
      {
        ...shared,
        test: { name: "conformance", include: ["test/conformance/**/*.test.ts"], testTimeout: 60_000 },
      },
      {
        ...shared,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["test/e2e/bundle-cli.setup.ts"],
          testTimeout: 120_000,
        },
      },
      {
        ...shared,
        // The packages a user installs, installed outside the repository and used as docs/getting-started.md
        // says: long (npm, pip and cargo installs), so its own project and timeouts.
        test: {
          name: "install",
          include: ["test/install/**/*.test.ts"],
          globalSetup: ["test/e2e/bundle-cli.setup.ts"],
          testTimeout: 45 * 60_000,
          hookTimeout: 15 * 60_000,
        },
      },
    ],
  },
});
