import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApiServer, createConductor, openTenancyStore } from "@conductor/host";
import { postJson } from "../post-json.js";
import { summarize } from "../stats.js";
import { againstFloor, type Scenario } from "./index.js";

/**
 * What authentication, authorization and auditing cost a warm RunExecution of the 10-node blueprint: one conductor
 * (journal on, as `conductor serve` runs) behind two servers in this process, measured in the same run and
 * interleaved in rounds so that drift touches both alike:
 * - the floor: a server without tenancy (`tenancy: false`: the token alone, one namespace, no audit trail), called
 *   with its token;
 * - the measured: a server with it, called with an operator's API key of the default namespace (a key looked up
 *   per request, the namespace checks, an audit entry appended to the hash chain per RunExecution).
 */
export const tenancyScenario: Scenario = {
  id: "tenancy",
  title: "RunExecution with API keys, namespaces and the audit trail vs the same server without them",
  async run(context) {
    const dir = await mkdtemp(join(tmpdir(), "conductor-bench-tenancy-"));
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
      const conductor = await createConductor({
        projectDir: dir,
        journal: { path: join(dir, ".conductor", "journal.db") },
      });
      const plain = await createApiServer(conductor, { port: 0, debuggerDir: false, tenancy: false });
      const gated = await createApiServer(conductor, { port: 0, debuggerDir: false });
      const store = await openTenancyStore(dir);
      const key = store.createKey({ name: "bench", namespace: "default", role: "operator" }).key;
      const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
      try {
        const body = JSON.stringify({ blueprintId: "chain10", inputsJson: '{"x":0}' });
        const runOnce = async (url: string, bearer: string) => {
          const answer = await postJson(
            agent,
            bearer,
            `${url}/conductor.api.v1.ConductorService/RunExecution`,
            body,
          );
          if (!answer.includes('\\"x\\":10')) throw new Error(`RunExecution answered ${answer}`);
        };
        const rounds = context.smoke ? 2 : 10;
        const perRound = context.iterations(500);
        const warmup = context.iterations(300);
        for (let i = 0; i < warmup; i++) {
          await runOnce(plain.url, plain.token);
          await runOnce(gated.url, key);
        }
        const without: number[] = [];
        const withTenancy: number[] = [];
        for (let round = 0; round < rounds; round++) {
          for (const [url, bearer, samples] of [
            [plain.url, plain.token, without],
            [gated.url, key, withTenancy],
          ] as const) {
            for (let i = 0; i < perRound; i++) {
              const started = performance.now();
              await runOnce(url, bearer);
              samples.push((performance.now() - started) * 1000);
            }
          }
        }
        // Closing writes the audit entries still queued.
        await gated.close();
        const audited = store.listAudit({ limit: 1 })[0];
        if (audited?.action !== "RunExecution" || !store.verifyAudit().ok) {
          throw new Error("the gated server did not record its RunExecution calls in an intact audit trail");
        }
        const floor = summarize(without).median;
        const measured = summarize(withTenancy).median;
        context.log(`  without ${floor.toFixed(0)} µs, with ${measured.toFixed(0)} µs (medians)`);
        return [
          againstFloor(
            "tenancy-run",
            "RunExecution, 10-node blueprint, with an API key, namespace checks and the audit trail, median",
            measured,
            {
              what: "the same RunExecution on a server without them (token only), same conductor",
              value: floor,
            },
            1.1,
          ),
        ];
      } finally {
        agent.destroy();
        store.close();
        await gated.close();
        await plain.close();
        await conductor.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
