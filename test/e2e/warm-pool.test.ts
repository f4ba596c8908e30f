import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import type { RunningAgent } from "../../gpu-agent/src/agent.ts";

const WARM_APP = join(REPO_ROOT, "test/fixtures/apps/warm-pool-app.ts");
const OTHER_APP = join(REPO_ROOT, "test/fixtures/apps/warm-pool-other-app.ts");
/** Unique to this run: found anywhere else, it leaked. */
const SECRET = `warm-e2e-${randomBytes(8).toString("hex")}`;

interface Report {
  label: string;
  fn: string | null;
  app: string | null;
  container: string | null;
  secret: string | null;
  poolMarker: string | null;
  hostname: string;
  tmp: string[];
}
type Fn = { remote(): Promise<Report> };

let t: TestPlatform;
let agent: RunningAgent;
let fns: Record<"first" | "second" | "offline" | "other", Fn>;

/** Wait until the agent runs no container: the next call is a cold start. */
const scaledToZero = async (): Promise<void> => {
  const deadline = Date.now() + 60_000;
  while (agent.containers.size > 0) {
    if (Date.now() > deadline) throw new Error("containers did not scale to zero within 60 s");
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  agent = t.platform.agents[0]!;
  process.env.E2E_WARM_SECRET = SECRET;
  const a = await t.deploy(WARM_APP);
  delete process.env.E2E_WARM_SECRET;
  const b = await t.deploy(OTHER_APP);
  fns = Object.fromEntries([...a.discovered.functions, ...b.discovered.functions].map((f) => [f.name, f.handle])) as unknown as typeof fns;
}, 120_000);
afterAll(() => t?.stop());

describe("warm pool: cold starts take pre-started sandboxes", () => {
  it("an agent keeps the default number of sandboxes waiting", async () => {
    await agent.warmPool.whenIdle();
    expect(agent.warmPool.stats()).toMatchObject({ size: 2, idle: 2 });
  });

  it("a cold call runs the right function in a pooled sandbox, with its secrets and FERRY_* variables", async () => {
    await scaledToZero();
    await agent.warmPool.whenIdle();
    const taken = agent.warmPool.stats().taken;
    const out = await fns.first.remote();
    expect(out).toMatchObject({ label: "first", fn: "first", app: "warm-pool-e2e", secret: SECRET, poolMarker: null, tmp: [] });
    expect(out.container).toMatch(/^ct-/);
    // A pooled sandbox keeps the neutral hostname it started with.
    expect(out.hostname).toMatch(/^ferry-wp-/);
    expect(agent.warmPool.stats().taken).toBeGreaterThan(taken);
    // Another function of the same app: its own code, in another pooled sandbox.
    await agent.warmPool.whenIdle(1);
    const other = await fns.second.remote();
    expect(other).toMatchObject({ label: "second", fn: "second", secret: SECRET, tmp: [] });
    expect(other.hostname).toMatch(/^ferry-wp-/);
    expect(other.hostname).not.toBe(out.hostname);
  });

  it("two apps never share a sandbox, and a sandbox is never used again after its container ends", async () => {
    await scaledToZero();
    await agent.warmPool.whenIdle();
    const a = await fns.first.remote();
    await agent.warmPool.whenIdle(1);
    const b = await fns.other.remote();
    expect(b).toMatchObject({ label: "other", fn: "other", app: "warm-pool-e2e-other", secret: null, tmp: [] });
    expect(a.tmp).toEqual([]);
    expect([a.hostname, b.hostname].every((h) => h.startsWith("ferry-wp-"))).toBe(true);
    expect(b.hostname).not.toBe(a.hostname);
    // Both containers scale down; the next cold calls get fresh sandboxes: no marker of anyone before.
    await scaledToZero();
    await agent.warmPool.whenIdle();
    const b2 = await fns.other.remote();
    await agent.warmPool.whenIdle(1);
    const a2 = await fns.first.remote();
    for (const later of [a2, b2]) {
      expect(later.tmp).toEqual([]);
      expect([a.hostname, b.hostname]).not.toContain(later.hostname);
    }
  });

  it("a start of another shape (another network mode) gets a sandbox started for it", async () => {
    await scaledToZero();
    await agent.warmPool.whenIdle();
    const before = agent.warmPool.stats();
    const out = await fns.offline.remote();
    expect(out).toMatchObject({ label: "offline", fn: "offline", tmp: [] });
    expect(out.hostname).toBe(`ferry-${out.container!.slice(0, 16).toLowerCase()}`);
    expect(agent.warmPool.stats()).toMatchObject({ idle: 2, taken: before.taken });
  });

  it("with the pool off, cold calls still run, in sandboxes started for them", async () => {
    agent.warmPool.resize(0);
    try {
      await scaledToZero();
      const out = await fns.first.remote();
      expect(out).toMatchObject({ fn: "first", secret: SECRET, tmp: [] });
      expect(out.hostname).not.toMatch(/^ferry-wp-/);
      expect(agent.warmPool.stats()).toMatchObject({ size: 0, idle: 0 });
    } finally {
      agent.warmPool.resize(2);
    }
  });

  it("`ferry agent --warm-pool` outside 0 … 16 is refused before the agent starts", async () => {
    const r = await runCli(
      ["agent", "--region-address", t.platform.regionAddress, "--nats", t.platform.natsUrl, "--state-dir", join(tmpdir(), `ferry-warm-refused-${process.pid}`), "--warm-pool", "17"],
      { ...t.env, FERRY_INTERNAL_TOKEN: t.platform.internalToken },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("warm pool size must be a whole number from 0 (off) to 16, got 17");
    expect(r.stderr).not.toContain("registered with");
  });
});
