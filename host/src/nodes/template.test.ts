import { describe, expect, it } from "vitest";
import { template } from "./template.js";
import { outputsOf, runNode, runtimeFor } from "./testing/run-node.js";

const report = {
  title: "Sales <Q3>",
  region: { name: "North", manager: { name: "Ada" } },
  rows: [
    { product: "tea", units: 3 },
    { product: "coffee", units: 12 },
  ],
  notes: [],
};

describe("core.template", () => {
  it("renders nested values, sections and inverted sections", async () => {
    const run = await runNode(template, {
      config: {
        template:
          "{{title}} for {{region.name}} ({{region.manager.name}})\n{{#rows}}- {{product}}: {{units}}\n{{/rows}}{{^notes}}no notes{{/notes}}",
      },
      inputs: { data: report },
    });
    expect(outputsOf(run)).toEqual({
      text: "Sales <Q3> for North (Ada)\n- tea: 3\n- coffee: 12\nno notes",
    });
  });

  it("shows objects as JSON and escapes HTML only when asked", async () => {
    const plain = await runNode(template, {
      config: { template: "{{region.manager}}" },
      inputs: { data: report },
    });
    expect(outputsOf(plain)).toEqual({ text: '{"name":"Ada"}' });
    const html = await runNode(template, {
      config: { template: "<h1>{{title}}</h1>", escapeHtml: true },
      inputs: { data: report },
    });
    expect(outputsOf(html)).toEqual({ text: "<h1>Sales &lt;Q3&gt;</h1>" });
  });

  it("renders a scalar input with {{.}}", async () => {
    const run = await runNode(template, { config: { template: "hello, {{.}}!" }, inputs: { data: "world" } });
    expect(outputsOf(run)).toEqual({ text: "hello, world!" });
  });

  it("rejects a template with an unclosed section at config validation, under the template path", () => {
    const diagnostics = runtimeFor(template).validateConfig("core.template", {
      template: "{{#rows}}{{product}}",
    });
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.path).toBe("template");
    expect(diagnostics[0]!.message).toBe(
      'config "template": mustache syntax error: Unclosed section "rows" at 20, found string "{{#rows}}{{product}}"',
    );
  });

  it("fails when the data input is missing, naming the port", async () => {
    const run = await runNode(template, { config: { template: "x" } });
    expect(run.failure).toMatchObject({ type: "input.invalid", retryable: false });
    expect(run.failure?.message).toContain('input "data": expected a value');
  });
});
