import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const RUNNER_ENTRY = fileURLToPath(new URL("./runner.ts", import.meta.url));

/**
 * Bundle the runner and the value codec into one self-contained file that the sandbox mounts
 * read-only; built once per agent start (a few ms with esbuild).
 */
export const buildRunner = async (outDir: string): Promise<string> => {
  await mkdir(outDir, { recursive: true });
  const outfile = join(outDir, "runner.mjs");
  await build({
    entryPoints: [RUNNER_ENTRY], outfile, bundle: true, platform: "node", format: "esm", target: "node22",
    logLevel: "silent", minifySyntax: true,
  });
  return outfile;
};
