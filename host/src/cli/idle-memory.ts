import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Gives back to the system the memory that start-up used and no longer needs. Loading the API, the runtimes'
 * clients and the node types grows V8's young generation to its full size (32 MB reserved, much of it touched);
 * an idle server keeps it resident until something shrinks it, and V8 shrinks it only in a memory-reducing
 * collection, which Node never asks for on its own. One such collection, once the server is warm and idle, lowers
 * its resident memory by about 18 MB; the young generation grows back as soon as load needs it.
 */
export function releaseStartupMemory(): void {
  // `gc` is exposed to contexts created after the flag is set; the main context and its globals stay unchanged.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (options: { type: string; execution: string; flavor: string }) => void;
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
}
