/**
 * The two Node globals the core touches on its ordinary path, for a page (injected by scripts/browser-build.mjs):
 * `process.pid` (a runtime's description) and `process.emitWarning` (a throwing event listener), and
 * `Buffer.byteLength` (the size limit of a blueprint's text) and `Buffer.from(bytes).toString("base64")` (bytes
 * in JSON values, as the debugger shows them).
 */
const encoder = new TextEncoder();

export const process = {
  pid: 0,
  env: {} as Record<string, string | undefined>,
  emitWarning(message: string): void {
    console.warn(message);
  },
};

/**
 * No value in a page is a Buffer (`instanceof Buffer` is false); what the core uses of it is the byte count of a
 * text and the base64 (or UTF-8) text of bytes.
 */
export class Buffer extends Uint8Array {
  static byteLength(text: string): number {
    return encoder.encode(text).length;
  }

  override toString(encoding = "utf8"): string {
    if (encoding !== "base64") return new TextDecoder().decode(this);
    // Because btoa takes a "binary string", made in slices so that no argument list grows past the engine's limit.
    let binary = "";
    for (let start = 0; start < this.length; start += 0x8000)
      binary += String.fromCharCode(...this.subarray(start, start + 0x8000));
    return btoa(binary);
  }
}

/** Node's `Buffer.from(text | bytes | arrayBuffer, offset, length)`, whose signature is not Uint8Array.from's. */
function bufferFrom(source: unknown, offset?: number, length?: number): Buffer {
  if (typeof source === "string") return new Buffer(encoder.encode(source));
  if (source instanceof ArrayBuffer) return new Buffer(source, offset, length);
  return new Buffer(source as ArrayLike<number>);
}
Object.defineProperty(Buffer, "from", { value: bufferFrom });

/**
 * `import.meta.resolve` in the browser build (scripts/browser-build.mjs defines it as this): the core resolves only
 * packages it then requires, which the page has bundled (node-module.ts), so a specifier stays a name.
 */
export function conductorResolveInPage(specifier: string): string {
  return `bundled:${specifier}`;
}
