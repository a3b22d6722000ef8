import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { postJson } from "../post-json.js";
import { memoryKb } from "../process-memory.js";
import { type ServeProcess, startServe } from "../serve-process.js";
import { timeSequential } from "../stats.js";
import { againstTarget, type BenchResult, type Scenario } from "./index.js";

/**
 * `conductor serve` as a separate process, as users run it (its defaults, the journal included), measured from a
 * client in this process over Connect with JSON on HTTP/1.1 keep-alive:
 * - RunExecution (start and wait, one round trip) of a 10-node in-process blueprint (ten core.add), and the same
 *   through a webhook;
 * - requests per second with 32 concurrent clients;
 * - the server's resident memory when idle after start (VmRSS from /proc), and after the load; the idle figure
 *   beside a floor: a Connect server for the same API that does nothing (`connect-idle-server.ts`), which is what
 *   Node and the Connect libraries alone hold.
 * The client is a bare node:http request (what a Connect JSON call is on the wire), so the figures are the
 * server's cost plus one loopback round trip, not a client library's.
 */
export const apiScenario: Scenario = {
  id: "api",
  title: "conductor serve: RunExecution over Connect JSON, webhook, 32 concurrent clients, idle RSS",
  async run(context) {
    const dir = await mkdtemp(join(tmpdir(), "conductor-bench-api-"));
    let server: ServeProcess | undefined;
    try {
      await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\nblueprints: [.]\n");
      const nodes = Array.from(
        { length: 10 },
        (_, i) =>
          `  n${i}: { type: core.add, inputs: { a: ${i === 0 ? "inputs.x" : `n${i - 1}.sum`}, b: { value: 1 } } }`,
      );
      await writeFile(
        join(dir, "chain10.blueprint.yaml"),
        `conductor: blueprint/v1\nid: chain10\ninputs:\n  x: { schema: { type: number }, default: 0 }\noutputs:\n  x: n9.sum\nnodes:\n${nodes.join("\n")}\n`,
      );
      const started = await startServe(dir);
      server = started;
      await new Promise((resolve) => setTimeout(resolve, 500));
      const idleKb = memoryKb(started.child.pid!, "VmRSS");
      const floorKb = await idleConnectServerKb();

      const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
      // The project's token, which the server made on its first start; every call carries it.
      const token = (await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim();
      const post = (url: string, body: string) => postJson(agent, token, url, body);
      const rpc = `${started.url}/conductor.api.v1.ConductorService/RunExecution`;
      const rpcBody = JSON.stringify({ blueprintId: "chain10", inputsJson: '{"x":0}' });
      const runOnce = async () => {
        const answer = await post(rpc, rpcBody);
        if (!answer.includes('\\"x\\":10')) throw new Error(`RunExecution answered ${answer}`);
      };
      const hookOnce = async () => {
        const answer = await post(`${started.url}/hooks/chain10`, '{"x":0}');
        if (!answer.includes('"outputs":{"x":10}')) throw new Error(`the webhook answered ${answer}`);
      };
      const iterations = { warmup: context.iterations(1_000), iterations: context.iterations(5_000) };
      const rpcSummary = await timeSequential(runOnce, iterations);
      const hookSummary = await timeSequential(hookOnce, iterations);

      const total = context.iterations(20_000);
      let next = 0;
      const loadStarted = performance.now();
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < total) {
            next++;
            await runOnce();
          }
        }),
      );
      const perSecond = total / ((performance.now() - loadStarted) / 1000);
      const loadedKb = memoryKb(started.child.pid!, "VmRSS");
      agent.destroy();

      const throughput: BenchResult = {
        id: "api-concurrent",
        what: `RunExecution, 10-node blueprint, 32 concurrent clients: ${Math.round(perSecond)} requests/s (shown as µs per request)`,
        value: 1e6 / perSecond,
        unit: "µs",
        target: "reported",
      };
      const afterLoad: BenchResult = {
        id: "api-rss-loaded",
        what: `server RSS after ${total + 2 * (iterations.warmup + iterations.iterations)} requests`,
        value: loadedKb,
        unit: "KB",
        target: "reported",
      };
      const webhook: BenchResult = {
        id: "api-webhook",
        what: "webhook POST /hooks/chain10 (sync), 10-node blueprint, median",
        value: hookSummary.median / 1000,
        unit: "ms",
        target: "reported",
      };
      return [
        againstTarget(
          "api-run",
          "RunExecution over Connect JSON (HTTP/1.1 keep-alive), 10-node in-process blueprint, median",
          rpcSummary.median / 1000,
          "ms",
          0.8,
        ),
        webhook,
        throughput,
        {
          ...againstTarget(
            "api-rss-idle",
            "`conductor serve` RSS, idle after start",
            idleKb,
            "KB",
            65 * 1024,
          ),
          floor: { what: "a Connect server of the same API doing nothing", value: floorKb },
          ratio: idleKb / floorKb,
        },
        afterLoad,
      ];
    } finally {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** The resident memory of a Connect server for the same API that does nothing, idle after start, in KB. */
async function idleConnectServerKb(): Promise<number> {
  const script = fileURLToPath(new URL("../connect-idle-server.js", import.meta.url));
  const child = spawn(process.execPath, ["--expose-gc", script], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("listening on")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`the idle Connect server exited with ${code}`)));
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    return memoryKb(child.pid!, "VmRSS");
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.stdin!.end();
    await exited;
  }
}
