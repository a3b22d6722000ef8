import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FailureInfo, InvocationRequest, InvocationSink } from "@conductor/sdk/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BlobDirectory, createBlobDirectory } from "./blob-directory.js";
import { type ChildRuntime, startChildRuntime } from "./child-runtime.js";

/** A Node sidecar serving stream node types (`sx.numbers`, `sx.total`) without announcing `stream.credits`. */
const withoutCredits = fileURLToPath(
  new URL("../../../test/e2e/streaming-without-credits.ts", import.meta.url),
);

/** What a sink was told, in order. */
function recordingSink(): {
  sink: InvocationSink;
  events: string[];
  ended: Promise<FailureInfo | undefined>;
} {
  const events: string[] = [];
  let end!: (failure: FailureInfo | undefined) => void;
  const ended = new Promise<FailureInfo | undefined>((resolve) => {
    end = resolve;
  });
  const sink: InvocationSink = {
    started: (step) => events.push(`started ${step}`),
    log: () => {},
    progress: () => {},
    chunk: (step, port) => events.push(`chunk ${step} ${port}`),
    heartbeat: () => {},
    completed: (step) => {
      events.push(`completed ${step}`);
      end(undefined);
    },
    failed: (step, failure) => {
      events.push(`failed ${step}`);
      end(failure);
    },
    cancelled: (step) => {
      events.push(`cancelled ${step}`);
      end(undefined);
    },
    rejected: (failure) => {
      events.push("rejected");
      end(failure);
    },
  };
  return { sink, events, ended };
}

const request = (
  nodeType: string,
  inputs: InvocationRequest["steps"][number]["inputs"],
): InvocationRequest => ({
  invocationId: 0,
  executionId: "stream-guard",
  steps: [{ nodeId: "p", nodeType, attempt: 1, config: {}, inputs, timeoutMs: 0 }],
});

describe("RuntimeClient on a runtime that did not announce stream.credits", () => {
  let project: string;
  let blobs: BlobDirectory;
  let runtime: ChildRuntime;

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), "conductor-stream-guard-"));
    blobs = await createBlobDirectory({ projectDir: project });
    runtime = await startChildRuntime({
      name: "legacy",
      launch: { command: process.execPath, args: [withoutCredits] },
      settings: {
        blobDir: blobs.path,
        inlineLimit: 1024 * 1024,
        maxMessageBytes: 64 * 1024 * 1024,
        // Generous: on a loaded machine Node can take seconds to print the handshake line.
        startTimeoutMs: 30_000,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await runtime?.close();
    await blobs?.remove();
    await rm(project, { recursive: true, force: true });
  });

  it("serves the stream node types but does not announce the feature", () => {
    expect(runtime.nodeTypes.map((nodeType) => nodeType.type).sort()).toEqual(["sx.numbers", "sx.total"]);
    expect(runtime.description.features).not.toContain("stream.credits");
  });

  it("refuses a step with a stream output before sending it: stream.unsupported, naming node, runtime and port", async () => {
    const { sink, events, ended } = recordingSink();
    runtime.execute(request("sx.numbers", { n: { value: 3 } }), sink);
    expect(await ended).toEqual({
      message:
        'node "p" (sx.numbers) on runtime "legacy": output "items" is a stream, but runtime "legacy" did not announce the feature "stream.credits", so it cannot carry streams (docs/protocol.md §3.5)',
      type: "stream.unsupported",
      retryable: false,
    });
    // Refused, not run: the runtime never started the step.
    expect(events).toEqual(["rejected"]);
  });

  it("refuses a step with a stream input the same way", async () => {
    const { sink, events, ended } = recordingSink();
    runtime.execute(request("sx.total", {}), sink);
    expect(await ended).toMatchObject({
      message:
        'node "p" (sx.total) on runtime "legacy": input "items" is a stream, but runtime "legacy" did not announce the feature "stream.credits", so it cannot carry streams (docs/protocol.md §3.5)',
      type: "stream.unsupported",
    });
    expect(events).toEqual(["rejected"]);
  });
});
