import { defineNode } from "@conductor/sdk";
import { describe, expect, it } from "vitest";
import { createConductor } from "../conductor.js";

/** Ignores its cancellation signal; resolves only when the test lets it. */
let release: () => void = () => {};
const stubborn = defineNode({
  type: "test.stubborn",
  run: () =>
    new Promise<Record<string, never>>((resolve) => {
      release = () => resolve({});
    }),
});

describe("RuntimeRegistry", () => {
  it("enforces timeouts on the in-process runtime: a node ignoring its signal fails after the grace, not retried", async () => {
    const conductor = await createConductor({
      builtinNodes: false,
      nodes: [stubborn],
      supervision: { cancelGraceMs: 50 },
      project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes: {} },
    });
    try {
      const result = await conductor.run({
        conductor: "blueprint/v1",
        nodes: {
          stuck: { type: "test.stubborn", timeoutMs: 50, retry: { maxAttempts: 3, initialDelayMs: 0 } },
        },
      });
      expect(result.status).toBe("failed");
      expect(result.nodes.stuck).toMatchObject({ status: "failed", attempt: 1 });
      expect(result.failure).toEqual({
        nodeId: "stuck",
        message:
          'node "stuck" (test.stubborn) timed out after 50 ms, and did not stop within 50 ms of its cancellation signal; it runs on inside the host, which cannot stop it, so it is not retried (a retry would run beside it); make the node honour its cancellation signal',
        type: "timeout",
        retryable: false,
      });
    } finally {
      release();
      await conductor.close();
    }
  });
});
