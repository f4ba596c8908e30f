import { mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { build } from "esbuild";

/**
 * Bundle one of the programs the agent runs inside sandboxes (the runner, the exec server) into
 * a self-contained ESM file under `outDir`, which sandboxes mount read-only. Built once per agent
 * start: a few ms with esbuild.
 *
 * @example
 * ```ts
 * const path = await bundleProgram(RUNNER_ENTRY, join(stateDir, "runner"), "runner.mjs");
 * ```
 */
export const bundleProgram = async (entry: string, outDir: string, fileName = `${basename(entry, ".ts")}.mjs`): Promise<string> => {
  await mkdir(outDir, { recursive: true });
  const outfile = join(outDir, fileName);
  await build({
    entryPoints: [entry], outfile, bundle: true, platform: "node", format: "esm", target: "node22",
    logLevel: "silent", minifySyntax: true,
  });
  return outfile;
};
