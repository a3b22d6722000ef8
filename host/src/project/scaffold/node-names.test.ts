import { describe, expect, it } from "vitest";
import { nodeNames } from "./node-names.js";

describe("nodeNames()", () => {
  it("names a node's files and symbols in every language from the last part of its type", () => {
    expect(nodeNames("py.top-words")).toEqual({
      type: "py.top-words",
      kebab: "top-words",
      camel: "topWords",
      snake: "top_words",
      pascal: "TopWords",
      title: "Top words",
    });
    expect(nodeNames("acme.billing.send-invoice-v2")).toMatchObject({
      kebab: "send-invoice-v2",
      camel: "sendInvoiceV2",
      snake: "send_invoice_v2",
      pascal: "SendInvoiceV2",
    });
  });

  it("refuses what is not a node type name, saying what a name looks like", () => {
    expect(() => nodeNames("TopWords")).toThrow(
      '"TopWords" is not a node type name; expected "<namespace>.<name>" in lowercase letters, digits and dashes, e.g. "py.word-count"',
    );
    expect(() => nodeNames("words")).toThrow('"words" is not a node type name');
  });

  it("refuses a last part that cannot name a function: a leading digit, a keyword", () => {
    expect(() => nodeNames("py.2d")).toThrow(
      'node type "py.2d": its last part "2d" names the files and functions of the node, so it must start with a letter',
    );
    expect(() => nodeNames("rs.match")).toThrow(
      'node type "rs.match": its last part "match" is a keyword of Python, Rust or JavaScript and cannot name the node\'s function; pick another name',
    );
    expect(() => nodeNames("py.lambda")).toThrow('"lambda" is a keyword');
  });
});
