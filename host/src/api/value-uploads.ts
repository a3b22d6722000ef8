import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, open, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { BlobRef_Encoding, EncodedValue, ValueSchema } from "@conductor/sdk/protocol";
import { Code, ConnectError } from "@connectrpc/connect";
import { CHUNK_BYTES, type ValueBytes, type ValueHandleJson } from "./value-handles.js";

/** Options of {@link createValueUploads}. */
export interface ValueUploadsOptions {
  /** Where uploaded values are kept, one file each, named by SHA-256 and type. */
  dir: string;
  /** The largest value accepted; default 4 GiB. */
  maxBytes?: number;
  /**
   * How long an uploaded value is kept after its upload or its last use by a start; default 24 hours. An execution
   * does not need it afterwards: the journal keeps its own copy of every input it recorded.
   */
  expireAfterMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** The default of {@link ValueUploadsOptions.expireAfterMs}. */
export const UPLOAD_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** How often, at most, storing an upload also removes the expired ones. */
const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/**
 * Large inputs uploaded through `UploadValue`: streamed to a file while hashed (the host holds one chunk at a time,
 * whatever the size), then given to an execution as a blob reference when `inputs_json` names them with
 * `{"$ref": "uploads/<sha256>"}`, so a 100 MB input never becomes 100 MB of JSON text, nor a parsed copy of it.
 */
export interface ValueUploads {
  /** Stores the chunks as one value of `type` ("json", "bytes" or "table"); gives its handle. */
  store(type: string, chunks: AsyncIterable<Uint8Array>): Promise<ValueHandleJson>;
  /** The bytes of an uploaded value, or undefined when there is none with this SHA-256. */
  bytes(sha256: string): Promise<ValueBytes | undefined>;
  /**
   * The inputs with every `{"$ref": "uploads/<sha256>"}` replaced by the uploaded value; each value used is kept
   * for another {@link ValueUploadsOptions.expireAfterMs} from now.
   */
  resolveInputs(inputs: Record<string, unknown>): Promise<Record<string, unknown>>;
  /**
   * Removes the values not uploaded or used for {@link ValueUploadsOptions.expireAfterMs}, and the partial files of
   * uploads that stopped as long ago (a server killed mid-upload); gives the names removed. Runs when the uploads
   * are created and, at most every 10 minutes, when a value is stored.
   */
  sweep(): Promise<string[]>;
}

const TYPES = ["json", "bytes", "table"] as const;
const ENCODINGS: Record<(typeof TYPES)[number], BlobRef_Encoding> = {
  json: BlobRef_Encoding.JSON,
  bytes: BlobRef_Encoding.RAW,
  table: BlobRef_Encoding.ARROW,
};

/** Creates the {@link ValueUploads} of a server. */
export function createValueUploads(options: ValueUploadsOptions): ValueUploads {
  const maxBytes = options.maxBytes ?? 4 * 1024 ** 3;
  const expireAfterMs = options.expireAfterMs ?? UPLOAD_EXPIRY_MS;
  const now = options.now ?? Date.now;
  let lastSweep = Number.NEGATIVE_INFINITY;

  const sweep = async (): Promise<string[]> => {
    lastSweep = now();
    const cutoff = lastSweep - expireAfterMs;
    const removed: string[] = [];
    for (const name of await readdir(options.dir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}\.(json|bytes|table)$/.test(name) && !name.startsWith(".upload-")) continue;
      const path = join(options.dir, name);
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined || !info.isFile() || info.mtimeMs >= cutoff) continue;
      if (
        await rm(path, { force: true }).then(
          () => true,
          () => false,
        )
      ) {
        removed.push(name);
      }
    }
    return removed;
  };
  // Because a server may be stopped for days, what expired meanwhile goes at its start, not at its first upload.
  const started = sweep().catch(() => []);

  const find = async (sha256: string) => {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    const names = await readdir(options.dir).catch(() => [] as string[]);
    const type = TYPES.find((candidate) => names.includes(`${sha256}.${candidate}`));
    if (type === undefined) return undefined;
    const path = join(options.dir, `${sha256}.${type}`);
    return { type, path, size: (await stat(path)).size };
  };

  return {
    sweep: async () => {
      await started;
      return sweep();
    },

    async store(type, chunks) {
      if (now() - lastSweep >= SWEEP_INTERVAL_MS) void sweep().catch(() => undefined);
      const kind = type === "" ? "bytes" : type;
      if (!(TYPES as readonly string[]).includes(kind)) {
        throw new ConnectError(
          `upload type "${type}" is not known; expected "json", "bytes" or "table"`,
          Code.InvalidArgument,
        );
      }
      // Because only the owner should read what executions are given, the directory and files are private.
      await mkdir(options.dir, { recursive: true, mode: 0o700 });
      const temp = join(options.dir, `.upload-${randomBytes(8).toString("hex")}`);
      const file = await open(temp, "wx", 0o600);
      const hash = createHash("sha256");
      let size = 0;
      try {
        for await (const chunk of chunks) {
          size += chunk.byteLength;
          if (size > maxBytes) {
            throw new ConnectError(
              `the upload is larger than the limit of ${maxBytes} bytes; split the value, or give it to the blueprint as a file path`,
              Code.ResourceExhausted,
            );
          }
          hash.update(chunk);
          await file.write(chunk);
        }
      } catch (error) {
        await file.close();
        await rm(temp, { force: true });
        throw error;
      }
      await file.close();
      const sha256 = hash.digest("hex");
      await rename(temp, join(options.dir, `${sha256}.${kind}`));
      return { $ref: `uploads/${sha256}`, type: kind as ValueHandleJson["type"], size, sha256 };
    },

    async bytes(sha256) {
      const found = await find(sha256);
      if (found === undefined) return undefined;
      return {
        type: found.type,
        size: found.size,
        sha256: () => sha256,
        chunks: () => createReadStream(found.path, { highWaterMark: CHUNK_BYTES }),
      };
    },

    async resolveInputs(inputs) {
      const resolved: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(inputs)) {
        const ref = uploadRef(value);
        if (ref === undefined) {
          resolved[name] = value;
          continue;
        }
        const sha256 = ref.slice("uploads/".length);
        const found = await find(sha256);
        if (found === undefined) {
          throw new ConnectError(
            `input "${name}" names "${ref}", which is not an uploaded value; upload it with UploadValue first and pass the ref it answers`,
            Code.InvalidArgument,
          );
        }
        // Used now, so kept as long again: a client may start several executions with one upload.
        const at = new Date(now());
        await utimes(found.path, at, at).catch(() => undefined);
        resolved[name] = new EncodedValue(
          create(ValueSchema, {
            kind: {
              case: "blob",
              value: {
                uri: pathToFileURL(found.path).href,
                size: BigInt(found.size),
                sha256,
                encoding: ENCODINGS[found.type],
              },
            },
          }),
        );
      }
      return resolved;
    },
  };
}

/** The ref of an input given as `{"$ref": "uploads/<sha256>", ...}`, else undefined. */
function uploadRef(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const ref = (value as { $ref?: unknown }).$ref;
  return typeof ref === "string" && ref.startsWith("uploads/") ? ref : undefined;
}
