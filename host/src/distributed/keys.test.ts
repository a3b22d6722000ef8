import { describe, expect, it } from "vitest";
import { jobId, labelSubsets, queueName } from "./keys.js";

describe("distributed names", () => {
  it("names one queue per runtime and label set, whatever the labels' order", () => {
    expect(queueName("python")).toBe("run.python");
    expect(queueName("python", ["gpu", "eu-west"])).toBe("run.python.eu-west+gpu");
    expect(queueName("python", ["eu-west", "gpu", "gpu"])).toBe("run.python.eu-west+gpu");
  });

  it("gives a worker every subset of its labels, so it takes the nodes that need any of them", () => {
    expect(labelSubsets(["gpu", "eu-west"]).map((subset) => subset.join("+"))).toEqual([
      "",
      "eu-west",
      "gpu",
      "eu-west+gpu",
    ]);
  });

  it("makes job ids deterministic and free of ':' (which BullMQ refuses)", () => {
    expect(jobId("e1", "fetch", 2)).toBe("e1~fetch~2");
    expect(jobId("a:b", "n", 1)).toBe("a%3Ab~n~1");
    expect(queueName("py:thon")).not.toContain(":");
  });
});
