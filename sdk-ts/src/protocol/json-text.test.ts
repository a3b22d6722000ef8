import { describe, expect, it } from "vitest";
import { isUnsafeInteger, parseJsonText, parseJsonWithBytes, stringifyJson } from "./json-text.js";

describe("parseJsonText()", () => {
  it("reads integers beyond 2^53 - 1 as bigints with every digit, at any depth", () => {
    expect(parseJsonText("9007199254740993")).toBe(9007199254740993n);
    expect(parseJsonText('{"a":[1,{"b":-9007199254740995}],"c":123456789012345678901234567890}')).toEqual({
      a: [1, { b: -9007199254740995n }],
      c: 123456789012345678901234567890n,
    });
  });

  it("keeps every other number a number", () => {
    // A fraction or an exponent makes a literal a number, whatever its size: 12345678901234567.5 stays a double.
    expect(parseJsonText("[9007199254740991,-9007199254740991,1.5,1e300,12345678901234567.5,0]")).toEqual([
      9007199254740991,
      -9007199254740991,
      1.5,
      1e300,
      Number("12345678901234567.5"),
      0,
    ]);
    // 2^53 itself is the first integer a number cannot tell from its neighbour: a bigint.
    expect(parseJsonText("9007199254740992")).toBe(9007199254740992n);
  });

  it("leaves long digit runs inside strings alone", () => {
    expect(parseJsonText('{"id":"90071992547409931234"}')).toEqual({ id: "90071992547409931234" });
  });

  it("throws a SyntaxError for text that is not JSON", () => {
    expect(() => parseJsonText("{")).toThrow(SyntaxError);
    expect(() => parseJsonText("[12345678901234567,")).toThrow(SyntaxError);
  });
});

describe("stringifyJson()", () => {
  it("writes bigints as their digits, at any depth", () => {
    expect(stringifyJson({ a: [9007199254740993n, { b: -(2n ** 70n) }], small: 5n })).toBe(
      '{"a":[9007199254740993,{"b":-1180591620717411303424}],"small":5}',
    );
  });

  it("round-trips with parseJsonText without changing a digit", () => {
    const text = '{"n":9007199254740993,"m":[18446744073709551615,-9223372036854775808],"f":0.1}';
    expect(stringifyJson(parseJsonText(text))).toBe(text);
  });

  it("writes plain JSON as JSON.stringify does, indented when asked", () => {
    const value = { a: [1, "x", null, true], b: { c: 1.5 } };
    expect(stringifyJson(value)).toBe(JSON.stringify(value));
    expect(stringifyJson({ n: 1n }, 2)).toBe('{\n  "n": 1\n}');
    expect(stringifyJson(undefined)).toBe("null");
  });

  it("still throws on a cycle, with its own message", () => {
    const cycle: Record<string, unknown> = { n: 1n };
    cycle.self = cycle;
    expect(() => stringifyJson(cycle)).toThrow(/circular/i);
  });
});

describe("bytes inside JSON", () => {
  it('writes nested bytes as {"$bytes": base64}, Buffers and empty bytes included, beside bigints', () => {
    const value = {
      data: Uint8Array.from([0, 1, 254, 255]),
      list: [Buffer.from("hi"), new Uint8Array(0)],
      view: Uint8Array.from([9, 8, 7, 6]).subarray(1, 3),
      big: 9007199254740993n,
    };
    expect(stringifyJson(value)).toBe(
      '{"data":{"$bytes":"AAH+/w=="},"list":[{"$bytes":"aGk="},{"$bytes":""}],"view":{"$bytes":"CAc="},"big":9007199254740993}',
    );
    expect(stringifyJson({ a: [new Uint8Array([1])] }, 2)).toBe(
      '{\n  "a": [\n    {\n      "$bytes": "AQ=="\n    }\n  ]\n}',
    );
  });

  it("reads the form back as Uint8Array at any depth, with integers beyond 2^53 kept", () => {
    const text =
      '{"data":{"$bytes":"AAH+/w=="},"list":[{"$bytes":"aGk="},{"$bytes":""}],"big":9007199254740993}';
    const parsed = parseJsonWithBytes(text) as { data: Uint8Array; list: Uint8Array[]; big: bigint };
    expect(parsed.data).toBeInstanceOf(Uint8Array);
    expect([...parsed.data]).toEqual([0, 1, 254, 255]);
    expect(parsed.list.map((bytes) => [...bytes])).toEqual([[104, 105], []]);
    expect(parsed.big).toBe(9007199254740993n);
    expect(stringifyJson(parsed)).toBe(text);
  });

  it("leaves objects that are not exactly the form alone", () => {
    const text =
      '{"a":{"$bytes":"AA==","size":1},"b":{"$bytes":"not base64!"},"c":{"$bytes":5},"d":"$bytes","e":{"$bytes":"AAA"}}';
    expect(parseJsonWithBytes(text)).toEqual(JSON.parse(text));
  });

  it("keeps parseJsonText for text that is not a value: the form stays an object there", () => {
    expect(parseJsonText('{"$bytes":"AA=="}')).toEqual({ $bytes: "AA==" });
  });
});

describe("isUnsafeInteger()", () => {
  it("is true for bigints beyond 2^53 - 1 in either direction only", () => {
    expect(isUnsafeInteger(9007199254740992n)).toBe(true);
    expect(isUnsafeInteger(-9007199254740992n)).toBe(true);
    expect(isUnsafeInteger(9007199254740991n)).toBe(false);
    expect(isUnsafeInteger(Number("9007199254740993"))).toBe(false);
  });
});
