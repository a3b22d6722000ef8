import { describe, expect, it } from "vitest";
import { csvParse } from "./csv-parse.js";
import { outputsOf, runNode, runtimeFor } from "./testing/run-node.js";

describe("core.csv-parse", () => {
  it("parses rows keyed by the header, casting numbers and booleans", async () => {
    const text = "region,units,price,active,zip\nnorth,3,2.50,true,01234\nsouth,-12,1e3,FALSE,90210\n";
    const run = await runNode(csvParse, { inputs: { text } });
    expect(outputsOf(run)).toEqual({
      rows: [
        { region: "north", units: 3, price: 2.5, active: true, zip: "01234" },
        { region: "south", units: -12, price: 1000, active: false, zip: 90210 },
      ],
      columns: ["region", "units", "price", "active", "zip"],
      count: 2,
    });
  });

  it("keeps quoted fields as text, with delimiters, escaped quotes and line breaks inside", async () => {
    const text = 'name,note,code\n"Smith, J","says ""hi""\nthen leaves","42"\n';
    const run = await runNode(csvParse, { inputs: { text } });
    expect(outputsOf(run).rows).toEqual([{ name: "Smith, J", note: 'says "hi"\nthen leaves', code: "42" }]);
  });

  it("gives arrays of fields without a header, with another delimiter", async () => {
    const text = "a;1;true\r\nb;2;false\r\n\r\n";
    const run = await runNode(csvParse, { config: { header: false, delimiter: ";" }, inputs: { text } });
    expect(outputsOf(run)).toEqual({
      rows: [
        ["a", 1, true],
        ["b", 2, false],
      ],
      columns: [],
      count: 2,
    });
  });

  it("keeps every field as text when cast is off", async () => {
    const run = await runNode(csvParse, { config: { cast: false }, inputs: { text: "n,ok\n1,true\n" } });
    expect(outputsOf(run).rows).toEqual([{ n: "1", ok: "true" }]);
  });

  it("reads integers beyond 2^53 as bigint numbers, so no digit is lost", async () => {
    const run = await runNode(csvParse, {
      inputs: { text: "id\n12345678901234567890\n-9007199254740993\n9007199254740991\n" },
    });
    expect(outputsOf(run).rows).toEqual([
      { id: 12345678901234567890n },
      { id: -9007199254740993n },
      { id: 9007199254740991 },
    ]);
  });

  it("gives the columns of a header without records", async () => {
    const run = await runNode(csvParse, { inputs: { text: "a,b\n" } });
    expect(outputsOf(run)).toEqual({ rows: [], columns: ["a", "b"], count: 0 });
  });

  it("fails without retry on a record of the wrong length, naming the line", async () => {
    const run = await runNode(csvParse, { inputs: { text: "a,b\n1,2\n3,4,5\n" } });
    expect(run.failure).toMatchObject({
      type: "csv.invalid",
      retryable: false,
      message: "csv text does not parse: columns length is 2, got 3 on line 3",
      details: { code: "CSV_RECORD_INCONSISTENT_COLUMNS", line: 3 },
    });
  });

  it("fails on an unclosed quote", async () => {
    const run = await runNode(csvParse, { inputs: { text: 'a,b\n"1,2\n' } });
    expect(run.failure).toMatchObject({ type: "csv.invalid", details: { code: "CSV_QUOTE_NOT_CLOSED" } });
  });

  it("fails on a header naming a column twice", async () => {
    const run = await runNode(csvParse, { inputs: { text: "a,b,a\n1,2,3\n" } });
    expect(run.failure).toMatchObject({
      type: "csv.duplicate-column",
      retryable: false,
      message: 'csv header names column "a" twice, expected unique names',
    });
  });

  it("rejects an empty delimiter in its config", () => {
    const diagnostics = runtimeFor(csvParse).validateConfig("core.csv-parse", { delimiter: "" });
    expect(diagnostics.map((d) => d.path)).toEqual(["delimiter"]);
  });
});
