import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createExecutionOwner, type ExecutionOwner, ownerState, processIsAlive } from "./execution-owner.js";

describe("ownerState()", () => {
  const self = createExecutionOwner("this process");
  const other = (changes: Partial<ExecutionOwner>): ExecutionOwner => ({ ...self, id: "other", ...changes });
  const now = 1_000_000;

  it("tells a live owner from a dead one, an expired lease, and no owner at all", () => {
    expect(ownerState(undefined, undefined, self, now)).toBe("unknown");
    expect(ownerState(self, now - 1, self, now)).toBe("alive");
    expect(ownerState(other({}), now + 1, self, now, () => true)).toBe("alive");
    expect(ownerState(other({}), now + 1, self, now, () => false)).toBe("dead");
    expect(ownerState(other({}), now - 1, self, now, () => true)).toBe("expired");
    // On another machine, only the lease can tell.
    expect(ownerState(other({ host: "elsewhere" }), now + 1, self, now, () => false)).toBe("alive");
    expect(ownerState(other({ host: "elsewhere" }), now - 1, self, now, () => false)).toBe("expired");
  });
});

describe("processIsAlive()", () => {
  it("knows this process, and a process that has exited is not alive", () => {
    expect(processIsAlive(self())).toBe(true);
    const exited = spawnSync(process.execPath, ["-e", ""]);
    expect(processIsAlive({ pid: exited.pid!, processKey: "" })).toBe(false);
  });

  // Only Linux says when a process started (in /proc); elsewhere the pid alone is checked.
  it.skipIf(process.platform !== "linux")(
    "tells a later process given the same pid from the one recorded",
    () => {
      const current = self();
      expect(current.processKey).toMatch(/^[0-9a-f-]+:\d+$/);
      expect(processIsAlive({ pid: current.pid, processKey: `${current.processKey}0` })).toBe(false);
    },
  );
});

function self(): ExecutionOwner {
  return createExecutionOwner("test");
}
