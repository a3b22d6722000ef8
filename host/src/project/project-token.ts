import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ConductorError } from "../errors.js";
import {
  ensurePrivateDirectory,
  PRIVATE_FILE_MODE,
  tightenMode,
  writePrivateFileWhole,
} from "../store/private-files.js";
import { STATE_DIR } from "./project-access.js";

/** The file holding a project's API token, relative to the project directory. */
export const TOKEN_FILE = join(STATE_DIR, "api-token");

/** A project's API token, as {@link ensureProjectToken} found or made it. */
export interface ProjectToken {
  readonly token: string;
  /** The absolute path of the token file. */
  readonly file: string;
  /** Whether this call created it. */
  readonly created: boolean;
  /** Whether others could read the file before this call made it private again (the token may have leaked). */
  readonly wasReadableByOthers: boolean;
}

/**
 * The bearer token of the project's API server: read from `.conductor/api-token`, or generated (32 random bytes)
 * and written there, readable by its owner only, on the first `conductor serve`. Use it where a server starts
 * without a token given: programs of the same user find it in the project, other users cannot read it.
 */
export async function ensureProjectToken(projectDir: string): Promise<ProjectToken> {
  const file = join(projectDir, TOKEN_FILE);
  // A token file that exists is read, even in a project this user may no longer write.
  if (!existsSync(file)) {
    try {
      ensurePrivateDirectory(join(projectDir, STATE_DIR));
      const token = randomBytes(32).toString("base64url");
      // Two servers starting together keep the first one's token, and neither reads the file before its token.
      if (writePrivateFileWhole(file, `${token}\n`, { exclusive: true })) {
        return { token, file, created: true, wasReadableByOthers: false };
      }
    } catch (error) {
      throw new ConductorError(
        "project_invalid",
        `cannot create the API token file ${file}: ${(error as Error).message}; give a token with --token or CONDUCTOR_TOKEN, or make the project directory writable`,
        { cause: error },
      );
    }
  }
  const wasReadableByOthers = tightenMode(file, PRIVATE_FILE_MODE);
  const token = await readProjectToken(projectDir);
  if (token === undefined) {
    throw new ConductorError(
      "project_invalid",
      `the API token file ${file} is empty; delete it and a new token is made at the next start`,
    );
  }
  return { token, file, created: false, wasReadableByOthers };
}

/**
 * Reads the project's API token, or gives undefined when there is none yet. Use it in programs that call the
 * project's server (`Authorization: Bearer <token>`).
 */
export async function readProjectToken(projectDir: string): Promise<string | undefined> {
  const file = join(projectDir, TOKEN_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConductorError(
      "project_invalid",
      `cannot read the API token file ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const token = text.trim();
  return token === "" ? undefined : token;
}
