/** The Node sidecar runtime: `startSidecar` serves modules of sdk-ts nodes over the runtime ABI. */

export type { SidecarDependencies } from "./sidecar.js";
export { parseSidecarArgs, startSidecar } from "./sidecar.js";
