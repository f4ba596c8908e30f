import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Duplex } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeValue, encodeValue } from "@ferry/core/codec";
import { buildRunner } from "../src/runner/build-runner.ts";
import { lineSplitter, type FromRunner, type ToRunner } from "../src/runner/runner-protocol.ts";
import { defaultNodeImageBinds, SANDBOX_NODE_DIR, startSandbox, type Sandbox } from "../src/sandbox/index.ts";
import { WarmPool, type WarmPoolOptions } from "../src/warm-pool/warm-pool.ts";
import { warmSandboxSpec } from "../src/warm-pool/warm-spec.ts";
import { warmMisfit, type WarmStartShape } from "../src/warm-pool/warm-fit.ts";

/** Pools of real bubblewrap sandboxes running the bundled runner, as the agent starts them (network "none"). */

let dir: string;
let runnerPath: string;
let bundlePath: string;
const rootfs = defaultNodeImageBinds(dirname(process.execPath));
const pools: WarmPool[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "warm-pool-"));
  // The sandbox runs as "nobody": it must reach the runner and the bundle.
  await chmod(dir, 0o755);
  runnerPath = await buildRunner(join(dir, "runner"));
  bundlePath = join(dir, "bundle", "app.mjs");
  await mkdir(dirname(bundlePath), { mode: 0o755 });
  // A function branded as the SDK brands it: it reports what a container's code would see.
  await writeFile(bundlePath, `
    import { readdirSync } from "node:fs";
    import { hostname } from "node:os";
    export const report = {
      [Symbol.for("ferry.function")]: true,
      local: () => ({ app: process.env.FERRY_APP ?? null, secret: process.env.API_KEY ?? null, marker: process.env.FERRY_WARM_POOL ?? null,
        hostname: hostname(), cwd: process.cwd(), appFiles: readdirSync("/opt/ferry/app") }),
    };
  `, { mode: 0o644 });
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A pool of the agent's spec whose started sandboxes the test can see. */
const pool = (opts: Partial<WarmPoolOptions> = {}): { pool: WarmPool; started: Sandbox[] } => {
  const started: Sandbox[] = [];
  const p = new WarmPool({
    size: 1, network: "none", dir: join(dir, "slots"), refillDelayMs: 0,
    start: (slot) => {
      const sb = startSandbox(warmSandboxSpec(slot, {
        rootfs, runnerDir: dirname(runnerPath), runnerDirInSandbox: "/opt/ferry/runner", appDirInSandbox: "/opt/ferry/app",
        argv: [`${SANDBOX_NODE_DIR}/node`, "/opt/ferry/runner/runner.mjs"], limits: { pids: 512 }, network: "none", devices: [],
      }));
      started.push(sb);
      return sb;
    },
    ...opts,
  });
  pools.push(p);
  return { pool: p, started };
};

/** Talk to a taken sandbox's runner as a container does: load the function, run one input. */
const loadAndRun = async (sandbox: Sandbox): Promise<Record<string, unknown>> => {
  const control: Duplex = sandbox.control;
  const replies: FromRunner[] = [];
  let wake: () => void = () => {};
  control.on("data", lineSplitter((line) => {
    if (!line) return;
    replies.push(JSON.parse(line) as FromRunner);
    wake();
  }));
  const next = async (): Promise<FromRunner> => {
    while (replies.length === 0) await new Promise<void>((r) => (wake = r));
    return replies.shift()!;
  };
  const send = (m: ToRunner) => control.write(`${JSON.stringify(m)}\n`);
  send({ t: "load", bundle: "/opt/ferry/app/app.mjs", function: "report" });
  expect(await next()).toEqual({ t: "ready" });
  send({ t: "in", id: "in-1", args: encodeValue([]) });
  const out = await next();
  if (out.t !== "out" || !out.ok) throw new Error(`no result: ${JSON.stringify(out)}`);
  return decodeValue(out.value) as Record<string, unknown>;
};

const waitFor = async (what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe("warm pool of runtime sandboxes (real bubblewrap)", () => {
  it("a take gets a pre-started sandbox whose runner loads the assigned app with the container's environment", async () => {
    const { pool: p, started } = pool();
    await p.whenIdle();
    const pooled = started[0]!;
    const taken = await p.take({ containerId: "ct-1", bundlePath, env: { FERRY_APP: "shop", API_KEY: "k-123" } });
    expect(taken).toBe(pooled);
    const seen = await loadAndRun(taken!);
    expect(seen).toEqual({ app: "shop", secret: "k-123", marker: null, hostname: expect.stringMatching(/^ferry-wp-/), cwd: "/opt/ferry/app", appFiles: ["app.mjs"] });
    taken!.kill();
    await taken!.exited;
  });

  it("refills after each take, and a taken sandbox never comes back, even after it ended", async () => {
    const { pool: p, started } = pool({ size: 2 });
    await p.whenIdle();
    const first = await p.take({ containerId: "ct-a", bundlePath, env: {} });
    const second = await p.take({ containerId: "ct-b", bundlePath, env: {} });
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    // Two replacements start in the background.
    await p.whenIdle(2);
    expect(p.stats()).toMatchObject({ size: 2, idle: 2, started: 4, taken: 2, lost: 0 });
    first!.kill();
    await first!.exited;
    const later = [await p.take({ containerId: "ct-c", bundlePath, env: {} }), await p.take({ containerId: "ct-d", bundlePath, env: {} })];
    for (const sb of later) expect([first, second]).not.toContain(sb);
    expect(later.map((s) => s?.id)).toEqual([started[2]!.id, started[3]!.id]);
    // Its app directory went with it.
    await waitFor("the ended sandbox's app directory to be removed", () => !existsSync(join(dir, "slots", first!.id)));
    for (const sb of [second, ...later]) sb!.kill();
  });

  it("a pooled sandbox that is killed while waiting is replaced", async () => {
    const { pool: p, started } = pool();
    await p.whenIdle();
    started[0]!.kill();
    await started[0]!.exited;
    await waitFor("a replacement", () => p.stats().idle === 1 && p.stats().lost === 1);
    expect(started).toHaveLength(2);
    const taken = await p.take({ containerId: "ct-1", bundlePath, env: { FERRY_APP: "after-kill" } });
    expect(taken).toBe(started[1]);
    expect((await loadAndRun(taken!)).app).toBe("after-kill");
    taken!.kill();
  });

  it("removes app directories a previous agent left behind", async () => {
    await mkdir(join(dir, "slots", "wp-left-behind"), { recursive: true });
    await writeFile(join(dir, "slots", "wp-left-behind", "app.mjs"), "export {};");
    pool({ size: 0 });
    expect(existsSync(join(dir, "slots", "wp-left-behind"))).toBe(false);
  });

  it("takes nothing while no sandbox waits: the start goes the normal way", async () => {
    const { pool: p } = pool({ size: 0 });
    expect(await p.take({ containerId: "ct-1", bundlePath, env: {} })).toBeUndefined();
    expect(p.stats()).toMatchObject({ size: 0, idle: 0, started: 0 });
  });

  it("holds the node's resources per pooled sandbox and stays smaller when there is no room", async () => {
    const held = new Set<string>();
    const { pool: p } = pool({ size: 3, reserve: (id) => held.size < 2 && !!held.add(id), release: (id) => held.delete(id) });
    await p.whenIdle(2);
    expect(p.stats()).toMatchObject({ idle: 2, starting: 0 });
    expect(held.size).toBe(2);
    // Taken: the container holds its own resources; the pooled sandbox's go back.
    const taken = await p.take({ containerId: "ct-1", bundlePath, env: {} });
    await p.whenIdle(2);
    expect(held.size).toBe(2);
    expect(p.drain()).toBe(2);
    expect(held.size).toBe(0);
    taken!.kill();
  });

  it("resize changes how many wait, 0 turns it off; sizes outside the limit are refused", async () => {
    const { pool: p } = pool({ size: 2 });
    await p.whenIdle();
    p.resize(0);
    expect(p.stats()).toMatchObject({ size: 0, idle: 0, starting: 0 });
    expect(await p.take({ containerId: "ct-1", bundlePath, env: {} })).toBeUndefined();
    p.resize(1);
    await p.whenIdle(1);
    expect(() => p.resize(17)).toThrow(/warm pool size must be a whole number from 0 \(off\) to 16, got 17/);
    expect(() => p.resize(1.5)).toThrow(/whole number/);
  });
});

describe("which starts a pooled sandbox can serve", () => {
  const plain: WarmStartShape = { customImage: false, volumes: 0, gpus: 0, network: "outbound", env: { FERRY_APP: "a", API_KEY: "k", NODE_ENV: "production" } };

  it("the default image without GPUs or volumes, in the pool's network mode", () => {
    expect(warmMisfit(plain, "outbound")).toBeUndefined();
  });

  it("not a custom image, volumes, GPUs, another network mode, or variables Node reads at start", () => {
    expect(warmMisfit({ ...plain, customImage: true }, "outbound")).toBe("a custom image");
    expect(warmMisfit({ ...plain, volumes: 1 }, "outbound")).toBe("volumes");
    expect(warmMisfit({ ...plain, gpus: 1 }, "outbound")).toBe("GPUs");
    expect(warmMisfit({ ...plain, network: "none" }, "outbound")).toBe(`network "none" (the pool's is "outbound")`);
    for (const name of ["NODE_OPTIONS", "NODE_EXTRA_CA_CERTS", "UV_THREADPOOL_SIZE", "LD_PRELOAD", "SSL_CERT_FILE", "OPENSSL_CONF"]) {
      expect(warmMisfit({ ...plain, env: { ...plain.env, [name]: "x" } }, "outbound")).toBe(`${name} is read when Node starts`);
    }
  });
});
