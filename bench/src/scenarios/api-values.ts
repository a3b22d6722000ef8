import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ConductorService,
  isValueHandle,
  parseJsonObject,
  readValueChunks,
  uploadValue,
} from "@conductor/sdk/client";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { memoryKb } from "../process-memory.js";
import { startServe } from "../serve-process.js";
import type { BenchResult, Scenario } from "./index.js";

/** The repository's Python venv (scripts/setup.sh makes it), for the Python node's case. */
const PYTHON_VENV = fileURLToPath(new URL("../../../runtimes/python/.venv", import.meta.url));

/** The most memory a large value may cost the server, as a multiple of its size (docs/api.md). */
const TARGET_MULTIPLE = 3;

/**
 * Large values through `conductor serve` (a separate process, journal on): the peak resident memory the server
 * gains (VmHWM over the idle VmRSS, from /proc) as a multiple of the value's size,
 * - for an output of N MB of bytes (a core.file-read node) returned by handle and streamed with ReadValue;
 * - for an input of N MB uploaded with UploadValue, run through a node by ref, and streamed back;
 * - for an output of an N MB string made by a node of a Node sidecar, and one made by a Python node (child
 *   runtimes, which hand it over as a blob file), returned by handle and streamed with ReadValue.
 * N is 200 in a full run, 32 in a smoke run. Each case runs in a fresh server, since the peak is per process.
 */
export const apiValuesScenario: Scenario = {
  id: "api-values",
  title:
    "conductor serve: server memory for a large output (ReadValue), a large input (UploadValue), large outputs of Node sidecar and Python nodes",
  async run(context) {
    // Because the server's first requests alone grow it by ~20 MB, a value much smaller than that would measure the warm-up.
    const size = (context.smoke ? 32 : 200) * 1024 * 1024;
    const dir = await mkdtemp(join(tmpdir(), "conductor-bench-values-"));
    try {
      await writeFile(
        join(dir, "produce.blueprint.yaml"),
        "conductor: blueprint/v1\nid: produce\ninputs: { path: { schema: { type: string } } }\noutputs: { data: read.content }\nnodes:\n  read: { type: core.file-read, config: { encoding: bytes }, inputs: { path: inputs.path } }\n",
      );
      await writeFile(
        join(dir, "relay.blueprint.yaml"),
        "conductor: blueprint/v1\nid: relay\ninputs: { data: {} }\noutputs: { data: pass.value }\nnodes:\n  pass: { type: core.passthrough, inputs: { value: inputs.data } }\n",
      );
      // A Node sidecar node that outputs a string of `size` characters (its JSON text is 2 bytes longer).
      const sdk = import.meta.resolve("@conductor/sdk");
      const zod = import.meta.resolve("zod");
      await writeFile(
        join(dir, "big-text.mjs"),
        `import { defineNode } from ${JSON.stringify(sdk)};\nimport { z } from ${JSON.stringify(zod)};\n` +
          `export const bigText = defineNode({ type: "bench.big-text", config: z.object({ size: z.number().int() }), ` +
          `output: { text: z.string() }, run: (_input, ctx) => ({ text: "x".repeat(ctx.config.size) }) });\n`,
      );
      await writeFile(
        join(dir, "conductor.yaml"),
        "conductor: project/v1\nblueprints: [.]\nruntimes:\n  sidecar: { kind: node, modules: [./big-text.mjs] }\n" +
          `  python: { kind: python, venv: ${JSON.stringify(PYTHON_VENV)}, path: [.], modules: [big_text] }\n`,
      );
      // The same in Python (the repository's development venv, made by the set-up).
      await writeFile(
        join(dir, "big_text.py"),
        'from conductor_runtime import node\n\n\n@node("bench.py-big-text", output="text")\ndef big_text(size: int) -> str:\n    return "x" * size\n',
      );
      await writeFile(
        join(dir, "python.blueprint.yaml"),
        `conductor: blueprint/v1\nid: python\noutputs: { text: make.text }\nnodes:\n  make: { type: bench.py-big-text, inputs: { size: { value: ${size} } } }\n`,
      );
      await writeFile(
        join(dir, "sidecar.blueprint.yaml"),
        `conductor: blueprint/v1\nid: sidecar\noutputs: { text: make.text }\nnodes:\n  make: { type: bench.big-text, config: { size: ${size} } }\n`,
      );
      const data = randomBytes(size);
      await writeFile(join(dir, "data.bin"), data);
      const mb = Math.round(size / 1024 / 1024);

      const output = await measure(dir, async (client) => {
        const run = await client.runExecution({
          blueprint: { case: "blueprintId", value: "produce" },
          inputsJson: JSON.stringify({ path: join(dir, "data.bin") }),
        });
        await drain(client, parseJsonObject(run.outputsJson).data, size);
      });
      const input = await measure(dir, async (client) => {
        const handle = await uploadValue(client, data, "bytes");
        const run = await client.runExecution({
          blueprint: { case: "blueprintId", value: "relay" },
          inputsJson: JSON.stringify({ data: { $ref: handle.$ref } }),
        });
        await drain(client, parseJsonObject(run.outputsJson).data, size);
      });
      const sidecar = await measure(dir, async (client) => {
        const run = await client.runExecution({ blueprint: { case: "blueprintId", value: "sidecar" } });
        await drain(client, parseJsonObject(run.outputsJson).text, size + 2);
      });
      const python = await measure(dir, async (client) => {
        const run = await client.runExecution({ blueprint: { case: "blueprintId", value: "python" } });
        await drain(client, parseJsonObject(run.outputsJson).text, size + 2);
      });
      context.log(
        `  idle RSS ${output.idleMb.toFixed(0)} MB; peaks ${output.peakMb.toFixed(0)} / ${input.peakMb.toFixed(0)} / ${sidecar.peakMb.toFixed(0)} / ${python.peakMb.toFixed(0)} MB (sidecar, Python: idle ${sidecar.idleMb.toFixed(0)}, ${python.idleMb.toFixed(0)} MB)`,
      );
      return [
        result(
          "api-values-output",
          `a ${mb} MB bytes output, by handle and ReadValue: server memory gained ÷ value size`,
          (output.gainedMb * 1024 * 1024) / size,
        ),
        result(
          "api-values-input",
          `a ${mb} MB input by UploadValue, run and read back: server memory gained ÷ value size`,
          (input.gainedMb * 1024 * 1024) / size,
        ),
        result(
          "api-values-sidecar-output",
          `a ${mb} MB string output of a Node sidecar node, by handle and ReadValue: server memory gained ÷ value size`,
          (sidecar.gainedMb * 1024 * 1024) / size,
        ),
        result(
          "api-values-python-output",
          `a ${mb} MB string output of a Python node, by handle and ReadValue: server memory gained ÷ value size`,
          (python.gainedMb * 1024 * 1024) / size,
        ),
      ];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

type Client = ReturnType<typeof createClient<typeof ConductorService>>;

function result(id: string, what: string, multiple: number): BenchResult {
  const met = multiple <= TARGET_MULTIPLE;
  return {
    id,
    what,
    value: Math.max(multiple, 0.001),
    unit: "×",
    target: `≤ ${TARGET_MULTIPLE}× the value`,
    met,
    ...(met ? {} : { missedBy: `${(multiple / TARGET_MULTIPLE).toFixed(2)}×` }),
  };
}

/** Reads a value by handle to the end, discarding it; checks it was a handle of the expected size. */
async function drain(client: Client, handle: unknown, size: number): Promise<void> {
  if (!isValueHandle(handle) || handle.size !== size) {
    throw new Error(`expected a handle of ${size} bytes, found ${JSON.stringify(handle)?.slice(0, 200)}`);
  }
  let read = 0;
  for await (const chunk of readValueChunks(client, handle)) read += chunk.byteLength;
  if (read !== size) throw new Error(`ReadValue gave ${read} bytes, expected ${size}`);
}

/** Runs `work` against a fresh `conductor serve`; gives its idle RSS, its peak, and the difference, in MB. */
async function measure(dir: string, work: (client: Client) => Promise<void>) {
  const server = await startServe(dir, ["--no-debugger"]);
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const idle = memoryKb(server.child.pid!, "VmRSS");
    // The project's token, which the server made on its first start; every call carries it.
    const token = readFileSync(join(dir, ".conductor", "api-token"), "utf8").trim();
    const client = createClient(
      ConductorService,
      createConnectTransport({
        baseUrl: server.url,
        httpVersion: "2",
        interceptors: [
          (next) => (request) => {
            request.header.set("authorization", `Bearer ${token}`);
            return next(request);
          },
        ],
      }),
    );
    await work(client);
    const peak = memoryKb(server.child.pid!, "VmHWM");
    return { idleMb: idle / 1024, peakMb: peak / 1024, gainedMb: (peak - idle) / 1024 };
  } finally {
    await server.stop();
  }
}
