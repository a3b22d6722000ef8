// Measures the round trip of py.add-one invocations over the Session stream from a grpc-js client, as the
// TypeScript host drives the runtime (a Python client costs ~200 µs of its own per round trip; grpc-js much less).
//
//   node runtimes/python/benchmarks/bench_session_node.mjs [rounds]
//
// Needs the repository's node_modules (@grpc/grpc-js, @grpc/proto-loader) and runtimes/python/.venv.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const rounds = Number(process.argv[2] ?? 3000);
const token = "bench-token";

const definition = protoLoader.loadSync(join(root, "proto/conductor/runtime/v1/runtime.proto"), {
  includeDirs: [join(root, "proto")],
  longs: Number,
  defaults: false,
  oneofs: true,
});
const { RuntimeService } = grpc.loadPackageDefinition(definition).conductor.runtime.v1;

const socketDir = mkdtempSync(join(tmpdir(), "conductor-bench-"));
const child = spawn(
  join(here, "../.venv/bin/python"),
  ["-m", "conductor_runtime", "--path", join(here, "../examples"), "--module", "sales_nodes"],
  {
    env: {
      ...process.env,
      CONDUCTOR_COOKIE: "conductor-runtime-7f3c9a1e",
      CONDUCTOR_ABI_VERSIONS: "1",
      CONDUCTOR_SOCKET_DIR: socketDir,
      CONDUCTOR_TOKEN: token,
      CONDUCTOR_RUNTIME_NAME: "python",
    },
    stdio: ["pipe", "pipe", "inherit"],
  },
);
const spawnedAt = process.hrtime.bigint();
const line = await new Promise((done) => createInterface({ input: child.stdout }).once("line", done));
const info = JSON.parse(line);
const client = new RuntimeService(`unix:${info.address}`, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
metadata.set("conductor-token", token);
await new Promise((done, fail) =>
  client.Handshake({ abiVersions: [1] }, metadata, (error) => (error ? fail(error) : done())),
);
const coldStartMs = Number(process.hrtime.bigint() - spawnedAt) / 1e6;

const call = client.Session(metadata);
let waiting = null;
call.on("data", (response) => {
  for (const event of response.events) {
    if (waiting && event.completed && (event.step ?? 0) === waiting.last) waiting.done();
    if (event.failed || event.rejected) throw new Error(JSON.stringify(event));
  }
});

const step = (index) => ({
  nodeId: `n${index}`,
  nodeType: "py.add-one",
  attempt: 1,
  inputs: { x: index === 0 ? { value: { json: Buffer.from("0") } } : { stepOutput: { step: index - 1, port: "x" } } },
});

async function measure(name, steps) {
  const samples = [];
  for (let id = 1; id <= rounds; id++) {
    const started = process.hrtime.bigint();
    await new Promise((done) => {
      waiting = { last: steps.length - 1, done };
      call.write({ commands: [{ execute: { invocationId: id + (steps.length > 1 ? 1e6 : 0), steps } }] });
    });
    samples.push(Number(process.hrtime.bigint() - started) / 1000);
  }
  const warm = samples.slice(Math.floor(rounds / 10)).sort((a, b) => a - b);
  const median = warm[Math.floor(warm.length / 2)];
  const p90 = warm[Math.floor(warm.length * 0.9)];
  console.log(`${name.padEnd(44)} median ${median.toFixed(1).padStart(8)} µs   p90 ${p90.toFixed(1).padStart(8)} µs`);
}

console.log(`${"cold start: spawn → first Handshake answered".padEnd(44)} ${coldStartMs.toFixed(1)} ms`);
await measure("one-step py.add-one round trip (grpc-js)", [step(0)]);
await measure("10-step py.add-one chain round trip (grpc-js)", Array.from({ length: 10 }, (_, index) => step(index)));
call.end();
client.close();
child.stdin.end();
