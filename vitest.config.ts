import { defineConfig } from "vitest/config";

// One vitest run, one project per suite: unit tests beside the code (the debugger's too), then conformance,
// end-to-end, and fault (abuse, fuzzing and kills, each bounded in time).
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
          // Because a loaded machine renders and answers slowly: polls wait for an outcome, they assert no time.
          expect: { poll: { timeout: 30_000 } },
        },
      },
      {
        // Telemetry with real parts: an OTLP receiver and Prometheus from Debian's packages, against the CLI.
        ...shared,
        test: {
          name: "telemetry",
          include: ["test/telemetry/**/*.test.ts"],
          globalSetup: ["test/e2e/bundle-cli.setup.ts"],
          testTimeout: 180_000,
          expect: { poll: { timeout: 30_000 } },
        },
      },
      {
        // Faults on purpose: fuzzed blueprints, killed runtimes and hosts, abusive HTTP. Each file runs for a bounded
        // time (a few minutes in all); a fuzz failure prints its seed (replay with FUZZ_SEED=<seed>).
        ...shared,
        test: {
          name: "fault",
          include: ["test/fault/**/*.test.ts"],
          globalSetup: ["test/e2e/bundle-cli.setup.ts"],
          testTimeout: 180_000,
          hookTimeout: 60_000,
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
