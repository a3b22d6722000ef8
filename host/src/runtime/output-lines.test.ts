import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { readOutputLines } from "./output-lines.js";

function lines(maxLineBytes?: number) {
  const stream = new PassThrough();
  const seen: string[] = [];
  const done = readOutputLines(stream, {
    ...(maxLineBytes === undefined ? {} : { maxLineBytes }),
    onLine: (line) => seen.push(line),
  });
  return { stream, seen, done };
}

describe("readOutputLines()", () => {
  it("gives each line without its line ending, across chunks, and the last unterminated line at the end", async () => {
    const { stream, seen, done } = lines();
    stream.write("one\r\ntw");
    stream.write("o\nthr");
    stream.end("ee");
    await done;
    expect(seen).toEqual(["one", "two", "three"]);
  });

  it("keeps the head of a long line and says how many bytes were cut", async () => {
    const { stream, seen, done } = lines(8);
    stream.write("0123456789");
    stream.write("abcdef\nshort\n");
    stream.end();
    await done;
    expect(seen).toEqual(["01234567 [… 8 more bytes of this line cut]", "short"]);
  });

  it("holds at most one line head however much a line without a newline brings", async () => {
    const { stream, seen, done } = lines(1024);
    const chunk = Buffer.alloc(1024 * 1024, "x");
    // 64 MiB without a newline: if the line were buffered whole, the line given would be 64 MiB long.
    for (let i = 0; i < 64; i++) stream.write(chunk);
    stream.end("\nafter\n");
    await done;
    expect(seen).toEqual([
      `${"x".repeat(1024)} [… ${64 * 1024 * 1024 - 1024} more bytes of this line cut]`,
      "after",
    ]);
  });

  it("resolves when the stream is destroyed without ending", async () => {
    const { stream, seen, done } = lines();
    stream.write("partial");
    stream.destroy();
    await done;
    expect(seen).toEqual(["partial"]);
  });
});
