import { benchConductor, benchNodesModule } from "../bench-conductor.js";
import { chain } from "../blueprints.js";
import { againstFloorInterleaved, openGrpcEcho } from "../floor.js";
import { pythonInterpreter } from "../runtimes.js";
import { timeSequential } from "../stats.js";
import { againstFloor, againstTarget, type BenchResult, type Scenario } from "./index.js";

/**
 * The transport alone (a grpc-js stream echo), then the Node sidecar: per-node dispatch against the raw socket
 * floor, and a chain in one round trip.
 */
export const sidecarScenarios: Scenario[] = [
  {
    id: "transport",
    title: "the transport alone: a grpc-js stream echo against the raw socket",
    async run(context) {
      const servers = [
        { id: "transport-grpc-echo", server: "node" as const, what: "a grpc-js server" },
        {
          id: "transport-grpc-aio-echo",
          server: { python: pythonInterpreter },
          what: "a Python grpc.aio server",
        },
      ];
      const results: BenchResult[] = [];
      for (const { id, server, what } of servers) {
        const echo = await openGrpcEcho(server);
        try {
          const measured = await againstFloorInterleaved(echo.roundTrip, {
            warmup: context.iterations(2_000),
            iterations: context.iterations(10_000),
          });
          results.push({
            id,
            what: `grpc-js bidi stream echo of 100 bytes to ${what}, no Conductor (the transport alone)`,
            value: measured.operation.median,
            unit: "µs",
            floor: { what: "raw UDS round trip", value: measured.floor.median },
            ratio: measured.operation.median / measured.floor.median,
            target: "reported",
          });
        } finally {
          echo.close();
        }
      }
      return results;
    },
  },
  {
    id: "sidecar",
    title: "dispatch to the Node sidecar",
    async run(context) {
      const conductor = await benchConductor({ node: { kind: "node", modules: [benchNodesModule] } });
      try {
        const iterations = { warmup: context.iterations(2_000), iterations: context.iterations(10_000) };
        const single = await conductor.prepare(chain(1, "node"));
        if ((await single.run({ x: 1 })).outputs.x !== 2) throw new Error("sidecar node gave a wrong result");
        const measured = await againstFloorInterleaved(() => single.run({ x: 1 }), iterations);
        const floor = { what: "raw UDS round trip", value: measured.floor.median };
        const dispatch = measured.operation;
        const ten = await conductor.prepare(chain(10, "node"));
        if ((await ten.run({ x: 0 })).outputs.x !== 10) throw new Error("sidecar chain gave a wrong result");
        const chain10 = await timeSequential(() => ten.run({ x: 0 }), iterations);
        return [
          againstFloor(
            "sidecar-dispatch",
            "per-node dispatch to the Node sidecar (1-node execution)",
            dispatch.median,
            floor,
            2,
          ),
          againstTarget(
            "sidecar-chain-10",
            "10-node chain through the Node sidecar",
            chain10.median,
            "µs",
            500,
          ),
        ];
      } finally {
        await conductor.close();
      }
    },
  },
];
