/**
 * Every runtime in a child process answers the host's liveness pings (HTTP/2 PING frames, docs/protocol.md section
 * 1.5) however often they come, so a healthy runtime is never taken for a frozen one. A gRPC server that limits
 * pings (grpc C-core's default allows one every 5 minutes without data) would end the connection with GOAWAY
 * "too_many_pings", and the host would restart the runtime.
 */
import { type Conductor, createConductor } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectedRuntimes } from "./runtimes-under-test.js";

const children = selectedRuntimes().filter((runtime) => runtime.spec !== undefined);

describe.each(children)("liveness pings: $name runtime", (runtime) => {
  let conductor: Conductor;
  const notices: string[] = [];

  beforeAll(async () => {
    conductor = await createConductor({
      builtinNodes: false,
      supervision: { pingIntervalMs: 20, pingTimeoutMs: 3_000 },
      onNotice: (message) => notices.push(message),
      project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes: { [runtime.name]: runtime.spec! } },
    });
    await conductor.nodeTypes();
  });

  afterAll(async () => {
    await conductor.close();
  });

  const add = {
    conductor: "blueprint/v1",
    nodes: { sum: { type: "conformance.add", inputs: { a: { value: 1 }, b: { value: 2 } } } },
    outputs: { sum: "sum.sum" },
  } as const;

  it("stays up through some fifty pings on an idle session", async () => {
    expect((await conductor.run(add)).outputs.sum).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await conductor.run(add)).outputs.sum).toBe(3);
    expect(conductor.runtimeHealth().find((entry) => entry.name === runtime.name)).toMatchObject({
      state: "ok",
      restarts: 0,
    });
    expect(
      notices.filter((notice) => !notice.startsWith("setting up") && notice.includes("restart")),
    ).toEqual([]);
  });

  it("a frozen runtime (SIGSTOP) is noticed: its step fails as runtime.lost and the runtime is restarted", async () => {
    const handle = await conductor.start({
      conductor: "blueprint/v1",
      nodes: { nap: { type: "conformance.sleep", config: { ms: 60_000 } } },
    });
    const started = new Promise<void>((resolve) =>
      handle.subscribe((event) => {
        if (event.type === "node.started") resolve();
      }),
    );
    await started;
    const pid = conductor.runtimeHealth().find((entry) => entry.name === runtime.name)!.pid!;
    process.kill(pid, "SIGSTOP");
    const result = await handle.result;
    expect(result.failure).toMatchObject({ nodeId: "nap", type: "runtime.lost", retryable: true });
    expect(result.failure!.message).toContain(
      `runtime "${runtime.name}" was killed by the host while running node "nap", because it stopped answering: no answer to the host's liveness ping within 3000 ms`,
    );
    expect((await conductor.run(add)).outputs.sum).toBe(3);
    const health = conductor.runtimeHealth().find((entry) => entry.name === runtime.name)!;
    expect(health).toMatchObject({ state: "ok", restarts: 1 });
    expect(health.pid).not.toBe(pid);
  });
});
