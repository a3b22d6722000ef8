/**
 * @conductor/sdk/load (Node only): imports modules of node definitions from files, as the host does for in-process
 * nodes and the Node sidecar for its own. Apart from "@conductor/sdk" because it needs Node's module loader, which
 * a browser page has not (the sdk's main entry runs in a page too).
 */
export { type LoadNodeModulesOptions, loadNodeModules } from "../runtime/load-node-modules.js";
