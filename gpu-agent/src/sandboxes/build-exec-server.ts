import { fileURLToPath } from "node:url";
import { bundleProgram } from "../runner/bundle-program.ts";

const EXEC_SERVER_ENTRY = fileURLToPath(new URL("./exec-server.ts", import.meta.url));

/**
 * Bundle the exec server into `outDir/exec-server.mjs`, which every sandbox mounts read-only.
 *
 * @example
 * ```ts
 * const path = await buildExecServer(join(stateDir, "exec-server")); // …/exec-server.mjs
 * ```
 */
export const buildExecServer = (outDir: string): Promise<string> => bundleProgram(EXEC_SERVER_ENTRY, outDir, "exec-server.mjs");
