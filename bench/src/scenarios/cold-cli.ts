import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { summarize } from "../stats.js";
import { againstTarget, type Scenario } from "./index.js";

/** A whole `conductor run` of a 10-node blueprint of built-in (in-process) nodes, from process start to exit. */
export const coldCliScenario: Scenario = {
  id: "cold-cli",
  title: "cold `conductor run` of a 10-node blueprint",
  async run(context) {
    const cli = fileURLToPath(new URL("../../../host/bin/conductor.js", import.meta.url));
    const blueprint = fileURLToPath(new URL("../../blueprints/chain10.blueprint.yaml", import.meta.url));
    const runOnce = () => {
      const started = performance.now();
      const output = execFileSync(process.execPath, [cli, "run", blueprint, "--quiet"], { encoding: "utf8" });
      const elapsed = performance.now() - started;
      if (output.trim() !== "10")
        throw new Error(`conductor run printed ${JSON.stringify(output)}, expected 10`);
      return elapsed;
    };
    runOnce();
    const samples: number[] = [];
    for (let i = 0; i < context.iterations(1_000) && i < 20; i++) samples.push(runOnce());
    return [
      againstTarget(
        "cold-cli",
        "cold `conductor run` of a 10-node in-process blueprint, wall",
        summarize(samples).median,
        "ms",
        170,
      ),
    ];
  },
};
