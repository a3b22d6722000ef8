import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createExecutionStarter } from "../api/execution-starter.js";
import { type Conductor, createConductor } from "../conductor.js";
import { type DeploymentStore, openDeploymentStore } from "../tenancy/deployment-store.js";
import { createDeployments } from "../tenancy/deployments.js";
import { schedulesOf } from "./schedule-config.js";
import { checkSchedules } from "./serve-schedules.js";

const REPORT = `conductor: blueprint/v1
id: report
inputs:
  day: { schema: { type: number } }
outputs:
  day: echo.value
nodes:
  echo: { type: core.passthrough, inputs: { value: inputs.day } }
`;

describe("checkSchedules()", () => {
  let dir: string;
  let conductor: Conductor;
  let store: DeploymentStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "serve-schedules-"));
    await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\nblueprints: [.]\n");
    await writeFile(join(dir, "report.blueprint.yaml"), REPORT);
    conductor = await createConductor({ projectDir: dir });
    store = openDeploymentStore(dir);
  });
  afterEach(async () => {
    store.close();
    await conductor.close();
    await rm(dir, { recursive: true, force: true });
  });

  const check = (schedules: string) => {
    const deployments = createDeployments(conductor, store);
    const parsed = schedulesOf(
      Object.fromEntries(
        Object.entries(JSON.parse(schedules) as Record<string, Record<string, unknown>>).map(([id, spec]) => [
          id,
          { cron: "0 2 * * *", ...spec } as never,
        ]),
      ),
    );
    return checkSchedules(conductor, parsed, createExecutionStarter(conductor, deployments));
  };

  it("accepts a pinned version that exists, and names the versions there are for one that does not", async () => {
    const deployments = createDeployments(conductor, store);
    await deployments.deploy({
      text: REPORT,
      source: "report.blueprint.yaml",
      namespace: "default",
      actor: "cli:test",
      origin: "cli",
    });
    await expect(
      check('{ "nightly": { "blueprint": "report", "version": 1, "inputs": { "day": 1 } } }'),
    ).resolves.toBe(undefined);
    await expect(
      check('{ "nightly": { "blueprint": "report", "version": 2, "inputs": { "day": 1 } } }'),
    ).rejects.toThrow(
      'conductor.yaml: schedules.nightly.version: namespace "default" has no version 2 of blueprint "report"; its versions are 1',
    );
  });

  it("names a blueprint that is neither a file nor deployed, and inputs that do not fit the version", async () => {
    await expect(check('{ "nightly": { "blueprint": "missing" } }')).rejects.toThrow(
      'conductor.yaml: schedules.nightly.blueprint: the project has no blueprint "missing"; its blueprints are "report"',
    );
    await expect(
      check('{ "nightly": { "blueprint": "report", "inputs": { "day": "monday" } } }'),
    ).rejects.toThrow(/^.*conductor\.yaml: schedules\.nightly\.inputs do not fit blueprint "report": /);
  });
});
