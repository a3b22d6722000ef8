import { describe, expect, it } from "vitest";
import { jsonTransform } from "./json-transform.js";
import { outputsOf, runNode, runtimeFor } from "./testing/run-node.js";

const orders = {
  customer: { name: "Ada", address: { city: "London" } },
  orders: [
    { id: 1, items: [{ sku: "a", price: 2.5, qty: 2 }] },
    {
      id: 2,
      items: [
        { sku: "b", price: 10, qty: 1 },
        { sku: "c", price: 1, qty: 3 },
      ],
    },
  ],
};

describe("core.json-transform", () => {
  it("evaluates an expression against nested data", async () => {
    const run = await runNode(jsonTransform, {
      config: {
        expression:
          '{ "city": customer.address.city, "skus": orders.items.sku, "total": $sum(orders.items.(price * qty)) }',
      },
      inputs: { data: orders },
    });
    expect(outputsOf(run)).toEqual({ result: { city: "London", skus: ["a", "b", "c"], total: 18 } });
  });

  it("gives plain arrays, without JSONata's sequence marker", async () => {
    const run = await runNode(jsonTransform, {
      config: { expression: "orders.id" },
      inputs: { data: orders },
    });
    const result = outputsOf(run).result;
    expect(result).toEqual([1, 2]);
    expect(Object.keys(result as object)).toEqual(["0", "1"]);
  });

  it("gives null when the expression matches nothing", async () => {
    const run = await runNode(jsonTransform, {
      config: { expression: "missing.field" },
      inputs: { data: orders },
    });
    expect(outputsOf(run)).toEqual({ result: null });
  });

  it("rejects an expression that does not parse at config validation, under the expression path", () => {
    const diagnostics = runtimeFor(jsonTransform).validateConfig("core.json-transform", {
      expression: "orders[price > 1",
    });
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.path).toBe("expression");
    expect(diagnostics[0]!.message).toBe(
      'config "expression": jsonata syntax error at position 16: Expected "]" before end of expression, found string "orders[price > 1"',
    );
    expect(diagnostics[0]!.found).toBe('string "orders[price > 1"');
  });

  it("rejects a missing expression", () => {
    const diagnostics = runtimeFor(jsonTransform).validateConfig("core.json-transform", {});
    expect(diagnostics.map((d) => d.path)).toEqual(["expression"]);
  });

  it("fails without retry when evaluation fails, with the JSONata error code", async () => {
    const run = await runNode(jsonTransform, {
      config: { expression: 'customer.name + "!"' },
      inputs: { data: orders },
    });
    expect(run.failure).toMatchObject({
      type: "json-transform.evaluate",
      retryable: false,
      details: { code: "T2001", position: 15 },
    });
    expect(run.failure?.message).toMatch(
      /^jsonata evaluation failed at position 15: The left side of the "\+"/,
    );
  });

  it("stops a runaway expression at its time budget", async () => {
    const run = await runNode(jsonTransform, {
      config: { expression: "($loop := function($n) { $loop($n + 1) }; $loop(0))", timeoutMs: 100 },
      inputs: { data: {} },
    });
    expect(run.failure).toMatchObject({ type: "json-transform.timeout", retryable: false });
  });
});
