/** Options of {@link readOutputLines}. */
export interface OutputLinesOptions {
  /**
   * The longest line passed on whole, in bytes. A longer line keeps its first `maxLineBytes` bytes and says how many
   * were cut; the rest is counted and dropped as it arrives, so a runtime printing 600 MB without a newline costs
   * the host this many bytes, not 600 MB. Default {@link DEFAULT_MAX_LINE_BYTES}.
   */
  maxLineBytes?: number;
  /** Called with each line, without its line ending. */
  onLine: (line: string) => void;
}

/** 16 KiB: longer than any log line or stack frame a person reads, short enough to keep 40 of per runtime. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;

const NEWLINE = 0x0a;

/**
 * Reads a runtime's stdout or stderr line by line with bounded memory: whatever the runtime writes, at most one
 * line head of `maxLineBytes` is held. Use it for every pipe from a child process whose output the host passes on
 * or keeps for crash reports. Resolves when the stream has ended (or was destroyed), after the last line was given,
 * so that waiting for it drains the runtime's output.
 *
 * Written here rather than taken from a line-splitting package because those either buffer an unbounded line
 * (readline) or fail the stream on one (split2's `maxLength`); a runtime's long line must be kept, shortened.
 */
export function readOutputLines(
  stream: NodeJS.ReadableStream | null | undefined,
  options: OutputLinesOptions,
): Promise<void> {
  if (stream === null || stream === undefined) return Promise.resolve();
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const head: Buffer[] = [];
  let headBytes = 0;
  let cutBytes = 0;

  // Pieces are copied out of their chunk, so a short kept head never pins a large chunk in memory.
  const take = (part: Buffer) => {
    const room = maxLineBytes - headBytes;
    if (room >= part.length) {
      if (part.length > 0) head.push(Buffer.from(part));
      headBytes += part.length;
    } else {
      if (room > 0) head.push(Buffer.from(part.subarray(0, room)));
      headBytes += Math.max(0, room);
      cutBytes += part.length - Math.max(0, room);
    }
  };
  const emit = () => {
    let line = Buffer.concat(head, headBytes).toString("utf8");
    if (cutBytes === 0 && line.endsWith("\r")) line = line.slice(0, -1);
    if (cutBytes > 0) line += ` [… ${cutBytes} more bytes of this line cut]`;
    head.length = 0;
    headBytes = 0;
    cutBytes = 0;
    options.onLine(line);
  };

  return new Promise((resolve) => {
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (headBytes > 0 || cutBytes > 0) emit();
      resolve();
    };
    stream.on("data", (chunk: Buffer | string) => {
      let buffer = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      let newline = buffer.indexOf(NEWLINE);
      while (newline >= 0) {
        take(buffer.subarray(0, newline));
        emit();
        buffer = buffer.subarray(newline + 1);
        newline = buffer.indexOf(NEWLINE);
      }
      take(buffer);
    });
    stream.on("end", end);
    stream.on("close", end);
    stream.on("error", end);
  });
}
