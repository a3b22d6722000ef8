import { randomUUID } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { defineNode } from "@conductor/sdk";
import { z } from "zod";
import type { FileAccess } from "./file-access.js";
import { fileFailure } from "./file-failure.js";
import { portSchemas } from "./port-schemas.js";

/**
 * Creates `core.file-write`, confined by `access`: writes text (as UTF-8) or bytes to a file, replacing it. The
 * content goes to a temporary file beside the target that is then renamed over it, so a cancelled or failed write
 * never leaves a half-written file, and a retry writes the same file again (the node is idempotent). A relative
 * path is resolved against the host's working directory; a path outside the project's file directories fails with
 * `file.not-allowed`. Because of the rename, a symbolic link at the path is replaced by a regular file.
 */
export const createFileWrite = (access: FileAccess) =>
  defineNode({
    type: "core.file-write",
    title: "Write file",
    description:
      "Writes text (as UTF-8) or bytes to a file, replacing it; creates missing directories by default.",
    config: z.object({
      createDirectories: z
        .boolean()
        .default(true)
        .describe("Whether missing parent directories are created."),
    }),
    input: {
      path: z.string().min(1).describe("The file to write."),
      content: portSchemas.textOrBytes().describe("Text, written as UTF-8, or bytes."),
    },
    output: {
      path: z.string().describe("The absolute path of the written file."),
      bytes: z.number().int().describe("How many bytes were written."),
    },
    flags: { cancellable: true, idempotent: true },
    run: async (input, ctx) => {
      // The checked path, links in its directories resolved: what is written is what was judged.
      const path = await access.check(input.path, "write");
      const data = typeof input.content === "string" ? Buffer.from(input.content, "utf8") : input.content;
      const temporary = join(dirname(path), `.${basename(path)}.${randomUUID().slice(0, 8)}.tmp`);
      try {
        if (ctx.config.createDirectories) await mkdir(dirname(path), { recursive: true });
        await writeFile(temporary, data, { signal: ctx.signal });
        await rename(temporary, path);
      } catch (error) {
        // Best effort: the write's own error is the one worth reporting.
        await rm(temporary, { force: true }).catch(() => undefined);
        throw fileFailure(error, "write", path);
      }
      return { path, bytes: data.byteLength };
    },
  });
