import { describe, expect, it } from "vitest";
import { workerOf } from "./node-worker.js";

const line = (message: string) => ({ at: 0, level: "info", message, fieldsJson: "" });

describe("workerOf()", () => {
  it("names the worker of the node's last attempt, and none for a node the host ran", () => {
    expect(workerOf([line("adding one")])).toBeUndefined();
    expect(workerOf([line("runs on worker w1"), line("adding one to 12")])).toBe("w1");
    expect(workerOf([line("runs on worker w1"), line("lost"), line("runs on worker gpu-2")])).toBe("gpu-2");
    expect(workerOf([line("it runs on worker w1 too")])).toBeUndefined();
  });
});
