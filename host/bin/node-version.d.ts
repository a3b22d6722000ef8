/** The oldest Node.js the host runs on. */
export declare const MINIMUM_NODE: string;
/** What is wrong with running the host on this Node.js version, or undefined when nothing is. */
export declare function nodeVersionProblem(version: string, execPath?: string): string | undefined;
