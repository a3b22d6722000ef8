/**
 * What the HTTP abuse tests share: a `conductor serve` process (so that a request that would end the server shows
 * as a process that exited), and raw connections that send exactly the bytes a misbehaving client sends.
 */
import type { ChildProcess } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { writeProject } from "../e2e/api/api-fixture.js";
import { startServe as startServeOn } from "../fixtures/serve-process.js";

/** A `conductor serve` child process on a temp project. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly url: string;
  readonly port: number;
  /** The project's token, from `.conductor/api-token`. */
  readonly token: string;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Stops it with SIGTERM, waits for its exit, and removes the project. Gives its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `conductor serve --port 0` on a new temp project (the API tests' blueprints), resolved once it listens. */
export async function startServe(): Promise<ServeProcess> {
  const dir = await writeProject();
  const { child, url, stderr, stop } = await startServeOn(dir);
  const token = (await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim();
  return {
    child,
    dir,
    url,
    port: Number(new URL(url).port),
    token,
    stderr,
    async stop() {
      const code = await stop();
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** What a raw connection received, and whether the server ended it. */
export interface Exchange {
  text: string;
  closedByServer: boolean;
}

/**
 * Connects to `port`, writes `data` (each item in turn), and collects what comes back until the server ends the
 * connection, or `waitMs` passes (then the client closes it and `closedByServer` is false).
 */
export async function exchange(
  port: number,
  data: (string | Buffer)[],
  options: { waitMs?: number; between?: number } = {},
): Promise<Exchange> {
  const socket = net.connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<boolean>((resolve) => {
    socket.once("close", () => resolve(true));
    socket.once("error", () => resolve(true));
  });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  for (const item of data) {
    if (socket.destroyed) break;
    socket.write(item);
    if (options.between !== undefined) await new Promise((resolve) => setTimeout(resolve, options.between));
  }
  const waited = new Promise<boolean>((resolve) =>
    setTimeout(() => resolve(false), options.waitMs ?? 10_000),
  );
  const closedByServer = await Promise.race([ended, waited]);
  socket.destroy();
  return { text: Buffer.concat(chunks).toString("latin1"), closedByServer };
}

/** Waits until `check` holds, polling every 20 ms for at most `limitMs`; gives whether it held. */
export async function eventually(check: () => boolean, limitMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

/** The status line's code of a raw HTTP/1.x answer, e.g. 400; undefined when there is none. */
export function statusOf(text: string): number | undefined {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/** The body of a raw HTTP/1.x answer (after the blank line). */
export function bodyOf(text: string): string {
  const index = text.indexOf("\r\n\r\n");
  return index < 0 ? "" : text.slice(index + 4);
}
