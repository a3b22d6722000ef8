/**
 * The two Node globals the core touches on its ordinary path, for a page (injected by scripts/browser-build.mjs):
 * `process.pid` (a runtime's description) and `process.emitWarning` (a throwing event listener), and
 * `Buffer.byteLength` (the size limit of a blueprint's text).
 */
const encoder = new TextEncoder();

export const process = {
  pid: 0,
  env: {} as Record<string, string | undefined>,
  emitWarning(message: string): void {
    console.warn(message);
  },
};

/** No value in a page is a Buffer (`instanceof Buffer` is false); only its byte count of a text is used. */
export class Buffer extends Uint8Array {
  static byteLength(text: string): number {
    return encoder.encode(text).length;
  }
}
