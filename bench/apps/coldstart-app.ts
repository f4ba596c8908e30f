// The app `npm run bench -- coldstart` deploys: a function on the default image (the warm pool's
// shape), a tiny image, and one with over 100 MB of dependencies under /app/node_modules of which
// the function imports one small module.
import { readFile } from "node:fs/promises";
import { App, Image } from "ferry";

// Written by the benchmark before it deploys; inside a container the image is already built.
const deps = process.env.FERRY_BENCH_DEPS ?? "/nonexistent/node_modules";

export const app = new App("bench-coldstart");

/** The default image ("ferry/node"), no GPUs or volumes: cold starts can take a warm pool sandbox. */
export const plain = app.function({ scaledownWindow: 1 }, () => "hi");

export const tiny = app.function(
  { image: Image.base("ferry/node").runCommands("mkdir -p /app && echo hi > /app/hello.txt"), scaledownWindow: 1 },
  async () => (await readFile("/app/hello.txt", "utf8")).trim(),
);

const SMALL_MODULE = "/app/node_modules/small-dep/index.js";

export const big = app.function(
  { image: Image.base("ferry/node").addLocalDir(deps, "/app/node_modules", { copy: true }).workdir("/app"), scaledownWindow: 1 },
  async () => ((await import(SMALL_MODULE)) as { answer(): number }).answer(),
);
