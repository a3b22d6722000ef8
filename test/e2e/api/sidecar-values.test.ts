/**
 * A large output made by a node of a child runtime (a Node sidecar) stays the blob file the runtime wrote, from the
 * node's result to the execution's outputs, the journal and the API: the execution records the same reference (not
 * a value decoded from the file and encoded again), the journal links that file into its blob directory, and the
 * API answers a handle described by the runtime's reference. Library users still read decoded values in
 * `result.outputs`. How much memory the server uses for it is measured by the `api-values` benchmark.
 */
import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConductor, type ExecutionResult } from "@conductor/host";
import {
  createClient,
  isValueHandle,
  parseJsonObject,
  readValue,
  type ValueHandle,
} from "@conductor/sdk/client";
import { EncodedValue } from "@conductor/sdk/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";

const bigValues = fileURLToPath(new URL("../../fixtures/nodes/big-values.ts", import.meta.url));
/** Over the ABI's 1 MiB inline limit, so the sidecar hands the value over as a blob file. */
const SIZE = 3 * 1024 * 1024 + 7;
const expected = "abcdefghij".repeat(Math.ceil(SIZE / 10)).slice(0, SIZE);
const expectedJson = Buffer.from(JSON.stringify(expected));
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
/** The inode of the blob file a value references; undefined for anything else. */
const inodeOf = (value: unknown): number | undefined =>
  value instanceof EncodedValue && value.wire.kind.case === "blob"
    ? statSync(fileURLToPath(value.wire.kind.value.uri)).ino
    : undefined;

describe("a large output of a child runtime, by reference end to end", () => {
  let fixture: ApiFixture;

  beforeAll(async () => {
    fixture = await startApiFixture(
      {},
      {
        "conductor.yaml": `conductor: project/v1\nblueprints: [.]\nruntimes:\n  sidecar: { kind: node, modules: [${JSON.stringify(bigValues)}] }\n`,
        "big.blueprint.yaml": `conductor: blueprint/v1
id: big
outputs: { text: make.text }
nodes:
  make: { type: test.big-text, config: { size: ${SIZE} } }
`,
      },
    );
  });

  afterAll(async () => {
    await fixture?.close();
  });

  it("records the runtime's blob reference as the execution's output and links its file into the journal", async () => {
    // A conductor of its own over the project, with a journal (the API fixture's has none).
    const conductor = await createConductor({
      projectDir: fixture.dir,
      journal: join(fixture.dir, ".conductor", "journal.db"),
    });
    const events: { type: string; outputs?: Record<string, unknown> }[] = [];
    let result: ExecutionResult;
    let text: unknown;
    let runtimeInode: number | undefined;
    try {
      result = await conductor.run(
        await conductor.loadBlueprint("big"),
        {},
        {
          onEvent: (event) => {
            if (event.type === "node.completed" || event.type === "execution.finished") events.push(event);
          },
        },
      );
      // The runtime's file, while it is there (its directory goes when the conductor closes).
      runtimeInode = inodeOf(events[0]?.outputs?.text);
      // Decoded when read, from that file.
      text = result.outputs.text;
    } finally {
      // Closing flushes the journal.
      await conductor.close();
    }
    expect(result.status).toBe("completed");
    expect(events.map((event) => event.type)).toEqual(["node.completed", "execution.finished"]);
    const made = events[0]!.outputs!.text as EncodedValue;
    expect(made).toBeInstanceOf(EncodedValue);
    expect(made.wire.kind.case).toBe("blob");
    if (made.wire.kind.case !== "blob") return;
    const ref = made.wire.kind.value;
    expect(ref.sha256).toBe(sha256(expectedJson));

    // The very value the node made, not a copy decoded from the file and encoded again.
    expect(events[1]!.outputs!.text).toBe(made);
    expect(result.encodedOutputs?.text).toBe(made);
    expect(text).toBe(expected);

    const blobs = join(fixture.dir, ".conductor", "blobs");
    const stored = statSync(join(blobs, ref.sha256));
    // The journal's copy is the runtime's file itself (a hard link, which outlives the runtime's blob directory),
    // and the only blob of that size.
    expect(runtimeInode).toBeDefined();
    expect(stored.ino).toBe(runtimeInode);
    expect(readdirSync(blobs).filter((name) => statSync(join(blobs, name)).size === stored.size)).toEqual([
      ref.sha256,
    ]);
  });

  it("says to read a large output before close when it is first read after the conductor closed", async () => {
    const conductor = await createConductor({ projectDir: fixture.dir });
    let result: ExecutionResult;
    try {
      result = await conductor.run(await conductor.loadBlueprint("big"));
    } finally {
      await conductor.close();
    }
    expect(result.status).toBe("completed");
    expect(() => result.outputs.text).toThrow(
      `output "text" of execution ${result.executionId} cannot be decoded: blob `,
    );
    expect(() => result.outputs.text).toThrow("read result.outputs before close()");
  });

  it("answers RunExecution with a handle the runtime's reference describes, and ReadValue streams the file", async () => {
    const client = createClient({ baseUrl: fixture.server.url, token: fixture.token });
    const run = await client.runExecution({ blueprint: { case: "blueprintId", value: "big" } });
    const handle = parseJsonObject(run.outputsJson).text;
    expect(isValueHandle(handle)).toBe(true);
    expect(handle).toEqual({
      $ref: `executions/${run.executionId}/outputs/text`,
      type: "json",
      size: expectedJson.byteLength,
      sha256: sha256(expectedJson),
    });
    const bytes = await readValue(client, handle as ValueHandle);
    expect(Buffer.from(bytes).equals(expectedJson)).toBe(true);
  });
});
