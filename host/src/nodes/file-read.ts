import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { defineNode, NodeFailure } from "@conductor/sdk";
import { z } from "zod";
import type { FileAccess } from "./file-access.js";
import { fileFailure } from "./file-failure.js";
import { portSchemas } from "./port-schemas.js";

/**
 * Creates `core.file-read`, confined by `access`: reads a whole file as UTF-8 text or as bytes. A relative path is
 * resolved against the host's working directory; a path outside the project's file directories fails with
 * `file.not-allowed`. Text that is not valid UTF-8 fails instead of being silently mangled; read such a file as
 * bytes.
 */
export const createFileRead = (access: FileAccess) =>
  defineNode({
    type: "core.file-read",
    title: "Read file",
    description: 'Reads a file as UTF-8 text or, with encoding "bytes", as bytes.',
    config: z.object({
      encoding: z
        .enum(["utf8", "bytes"])
        .default("utf8")
        .describe('"utf8" gives a string, "bytes" gives bytes (a Uint8Array).'),
    }),
    input: { path: z.string().min(1).describe("The file to read.") },
    output: {
      content: portSchemas.textOrBytes().describe('The content: a string, or bytes with encoding "bytes".'),
      size: z.number().int().describe("The file's size in bytes."),
    },
    flags: { cancellable: true, idempotent: true },
    run: async ({ path }, ctx) => {
      const real = await access.check(path, "read");
      let buffer: Buffer;
      try {
        buffer = await readFile(real, { signal: ctx.signal });
      } catch (error) {
        throw fileFailure(error, "read", resolve(path));
      }
      // A plain Uint8Array over the same memory, so downstream nodes see one kind of bytes value.
      const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      if (ctx.config.encoding === "bytes") return { content: bytes, size: bytes.byteLength };
      try {
        return { content: new TextDecoder("utf-8", { fatal: true }).decode(bytes), size: bytes.byteLength };
      } catch (error) {
        throw new NodeFailure(
          `cannot read "${resolve(path)}" as text: it is not valid UTF-8; set encoding "bytes" to read it as bytes`,
          { type: "file.encoding", details: { path: resolve(path) }, cause: error },
        );
      }
    },
  });
