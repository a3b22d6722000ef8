// Which Node.js the `conductor` command needs, checked before anything else loads. Because an older Node must be
// able to load this file to say so, it is plain JavaScript that Node 18 and 20 run (no TypeScript, no import of
// anything they lack).

/** The oldest Node.js the host runs on: node:sqlite, require(esm) and module.enableCompileCache are there. */
export const MINIMUM_NODE = "22.13.0";

/**
 * What is wrong with running the host on this Node.js version (e.g. "20.20.2"), or undefined when nothing is.
 * @param {string} version
 * @param {string} [execPath]
 * @returns {string | undefined}
 */
export function nodeVersionProblem(version, execPath) {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const [needMajor = 0, needMinor = 0] = MINIMUM_NODE.split(".").map(Number);
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined;
  return (
    `needs Node.js ${MINIMUM_NODE} or newer, found ${version}${execPath === undefined ? "" : ` at ${execPath}`}; ` +
    "install a newer Node.js (https://nodejs.org/en/download, or `nvm install 24`) and run the command again"
  );
}
