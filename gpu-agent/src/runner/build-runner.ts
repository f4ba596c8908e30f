import { fileURLToPath } from "node:url";
import { bundleProgram } from "./bundle-program.ts";

const RUNNER_ENTRY = fileURLToPath(new URL("./runner.ts", import.meta.url));

/** Bundle the runner and the value codec into `outDir/runner.mjs`, which every container mounts read-only. */
export const buildRunner = (outDir: string): Promise<string> => bundleProgram(RUNNER_ENTRY, outDir, "runner.mjs");
