import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "@ferry/core/codec";
import { buildRunner } from "../src/runner/build-runner.ts";
import { lineSplitter, type FromRunner, type ToRunner } from "../src/runner/runner-protocol.ts";
import { WARM_POOL_ENV } from "../src/warm-pool/runner-assignment.ts";

/** The bundled runner outside a sandbox, started as a warm pool starts it: fd 3 is a socket pair to this test. */

let dir: string;
let runner: string;
let bundle: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "warm-runner-"));
  runner = await buildRunner(join(dir, "runner"));
  bundle = join(dir, "app.mjs");
  await writeFile(bundle, `
    const seenAtImport = { secret: process.env.API_KEY ?? null, marker: process.env.${WARM_POOL_ENV} ?? null };
    export const env = { [Symbol.for("ferry.function")]: true, local: () => seenAtImport };
  `);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Start a runner with `env`; `next()` resolves with its next message. */
const startRunner = (env: Record<string, string>) => {
  const child = spawn(process.execPath, [runner], { stdio: ["ignore", "pipe", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "", ...env } });
  const control = child.stdio[3] as Duplex;
  control.on("error", () => undefined);
  const replies: FromRunner[] = [];
  let wake: () => void = () => {};
  control.on("data", lineSplitter((line) => {
    if (!line) return;
    replies.push(JSON.parse(line) as FromRunner);
    wake();
  }));
  return {
    send: (m: ToRunner) => control.write(`${JSON.stringify(m)}\n`),
    next: async (): Promise<FromRunner> => {
      while (replies.length === 0) await new Promise<void>((r) => (wake = r));
      return replies.shift()!;
    },
    stop: () => child.kill("SIGKILL"),
  };
};

const errorMessage = (m: FromRunner): string => (m.t === "load_error" ? (decodeValue(m.error) as Error).message : `not a load error: ${JSON.stringify(m)}`);

describe("runner in a warm pool sandbox", () => {
  it("says it waits, then imports the app only after its assignment, with the container's environment set", async () => {
    const r = startRunner({ [WARM_POOL_ENV]: "1" });
    try {
      expect(await r.next()).toEqual({ t: "waiting" });
      r.send({ t: "assign", env: { API_KEY: "k-42" } });
      r.send({ t: "load", bundle, function: "env" });
      expect(await r.next()).toEqual({ t: "ready" });
      r.send({ t: "in", id: "i1", args: encodeValue([]) });
      const out = await r.next();
      expect(out.t === "out" && out.ok && decodeValue(out.value)).toEqual({ secret: "k-42", marker: null });
    } finally {
      r.stop();
    }
  });

  it("refuses a load before its assignment", async () => {
    const r = startRunner({ [WARM_POOL_ENV]: "1" });
    try {
      expect(await r.next()).toEqual({ t: "waiting" });
      r.send({ t: "load", bundle, function: "env" });
      expect(errorMessage(await r.next())).toBe("this warm pool sandbox got no assignment before its load");
    } finally {
      r.stop();
    }
  });

  it("is assigned once: a second assignment fails the load", async () => {
    const r = startRunner({ [WARM_POOL_ENV]: "1" });
    try {
      expect(await r.next()).toEqual({ t: "waiting" });
      r.send({ t: "assign", env: { API_KEY: "first" } });
      r.send({ t: "assign", env: { API_KEY: "second" } });
      r.send({ t: "load", bundle, function: "env" });
      expect(errorMessage(await r.next())).toBe("this warm pool sandbox was already assigned to a container");
    } finally {
      r.stop();
    }
  });

  it("a runner started for its container takes no assignment and loads at once", async () => {
    const r = startRunner({ API_KEY: "from-start" });
    try {
      r.send({ t: "assign", env: { API_KEY: "injected" } });
      r.send({ t: "load", bundle, function: "env" });
      expect(errorMessage(await r.next())).toBe("this runner was not started in a warm pool sandbox");
      const fresh = startRunner({ API_KEY: "from-start" });
      try {
        fresh.send({ t: "load", bundle, function: "env" });
        expect(await fresh.next()).toEqual({ t: "ready" });
      } finally {
        fresh.stop();
      }
    } finally {
      r.stop();
    }
  });
});
