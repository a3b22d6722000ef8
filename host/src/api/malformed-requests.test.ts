import { describe, expect, it } from "vitest";
import { decodePath, isRequestProblem, requestUrl, rpcRequestProblem } from "./malformed-requests.js";

const request = (headers: Record<string, string>, extra: { authority?: string; url?: string } = {}) => ({
  headers,
  [Symbol.asyncIterator]: async function* () {},
  ...extra,
});

describe("rpcRequestProblem()", () => {
  it("accepts a host name, an address, with or without a port", () => {
    for (const host of ["localhost", "127.0.0.1:7070", "[::1]:7070", "flows.example.com"]) {
      expect(rpcRequestProblem(request({ host })), host).toBeUndefined();
    }
  });

  it("refuses a call without a Host, or an HTTP/2 call without :authority even beside a Host header", () => {
    expect(rpcRequestProblem(request({}))?.message).toMatch(/^an API call must name the server it calls/);
    expect(
      rpcRequestProblem(request({ host: "localhost" }, { authority: undefined as unknown as string })),
    ).toEqual(expect.objectContaining({ status: 400 }));
  });

  it("refuses a Host that is not a host name with an optional port", () => {
    for (const host of ["a b", "[::1", "example.com/x", "user@example.com", "example.com?x"]) {
      expect(rpcRequestProblem(request({ host }))?.message, host).toBe(
        `the Host header ${JSON.stringify(host)} is not a host name with an optional port`,
      );
    }
  });
});

describe("requestUrl() and decodePath()", () => {
  it("read origin-form and absolute-form targets, and refuse what is no URL", () => {
    const origin = requestUrl(request({}, { url: "/hooks/a?async=1" }));
    expect(isRequestProblem(origin) ? origin : origin.pathname).toBe("/hooks/a");
    expect(requestUrl(request({}, { url: "http://[" }))).toEqual({
      status: 400,
      message: 'the request target "http://[" is not a URL',
    });
  });

  it("decode escapes, and refuse a % that starts none", () => {
    expect(decodePath("/hooks/caf%C3%A9")).toBe("/hooks/café");
    for (const path of ["%zz", "a%", "%E0%A4%A"]) {
      expect(decodePath(path), path).toEqual({
        status: 400,
        message: `the path ${JSON.stringify(path)} has a "%" that does not start a valid escape (%XX of UTF-8 bytes)`,
      });
    }
  });
});
