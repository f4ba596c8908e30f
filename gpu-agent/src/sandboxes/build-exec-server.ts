import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const EXEC_SERVER_ENTRY = fileURLToPath(new URL("./exec-server.ts", import.meta.url));

/**
 * Bundle the exec server into one file that every sandbox mounts read-only; built once per agent
 * start, like the runner.
 *
 * @example
 * ```ts
 * const path = await buildExecServer(join(stateDir, "exec-server")); // …/exec-server.mjs
 * ```
 */
export const buildExecServer = async (outDir: string): Promise<string> => {
  await mkdir(outDir, { recursive: true });
  const outfile = join(outDir, "exec-server.mjs");
  await build({
    entryPoints: [EXEC_SERVER_ENTRY], outfile, bundle: true, platform: "node", format: "esm", target: "node22",
    logLevel: "silent", minifySyntax: true,
  });
  return outfile;
};
