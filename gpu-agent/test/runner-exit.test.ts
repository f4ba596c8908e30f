import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRunner } from "../src/runner/build-runner.ts";
import { lineSplitter, type FromRunner } from "../src/runner/runner-protocol.ts";

/** The runner as containers run it (bundled), outside a sandbox: fd 3 is a real socket pair to this test. */

let dir: string;
let runner: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "runner-exit-"));
  runner = await buildRunner(join(dir, "runner"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A bundle exporting a class (branded as the SDK brands it) whose `exit` writes `marker` after `exitMs`. */
const classBundle = async (marker: string, exitMs: number): Promise<string> => {
  const path = join(dir, `app-${Math.random().toString(36).slice(2)}.mjs`);
  await writeFile(path, `
    import { writeFileSync } from "node:fs";
    export const Model = {
      [Symbol.for("ferry.cls")]: true,
      async instantiate() {
        return {
          async call(method) { return method; },
          async exit() { await new Promise((r) => setTimeout(r, ${exitMs})); writeFileSync(${JSON.stringify(marker)}, "exited"); },
        };
      },
    };
  `);
  return path;
};

/** Start the runner, load `bundle`'s class Model, and resolve once it is ready. */
const startLoaded = async (bundle: string) => {
  const child = spawn(process.execPath, [runner], { stdio: ["ignore", "pipe", "pipe", "pipe"] });
  const control = child.stdio[3] as Duplex;
  control.on("error", () => undefined);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const ready = new Promise<FromRunner>((resolve) => control.on("data", lineSplitter((line) => line && resolve(JSON.parse(line) as FromRunner))));
  control.write(`${JSON.stringify({ t: "load", bundle, function: "Model" })}\n`);
  expect(await ready).toEqual({ t: "ready" });
  return { child, control, exited };
};

describe("runner: a class's exit when the agent's end of the control channel closes", () => {
  it("runs exit, then the runner exits", async () => {
    const marker = join(dir, "closed.txt");
    const { control, exited } = await startLoaded(await classBundle(marker, 200));
    control.destroy();
    expect(await exited).toBe(0);
    expect(await readFile(marker, "utf8")).toBe("exited");
  });

  it("a shutdown followed by the channel closing still lets exit finish", async () => {
    const marker = join(dir, "shutdown.txt");
    const { control, exited } = await startLoaded(await classBundle(marker, 300));
    control.write(`${JSON.stringify({ t: "shutdown" })}\n`);
    await new Promise((r) => setTimeout(r, 50));
    control.destroy();
    expect(await exited).toBe(0);
    expect(existsSync(marker)).toBe(true);
  });
});
