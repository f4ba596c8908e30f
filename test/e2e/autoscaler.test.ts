import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fixtures/wait-for.ts";
import { join } from "node:path";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

/** minContainers and bufferContainers on the real platform, observed on the agent's containers. */

const SCALING_APP = join(REPO_ROOT, "test/fixtures/apps/scaling-app.ts");
type ScalingApp = typeof import("../fixtures/apps/scaling-app.ts");

describe("autoscaler knobs", () => {
  let t: TestPlatform;
  let fns: ScalingApp;
  let ids: Record<string, string>;
  const containersOf = (name: string) => [...t.platform.agents[0]!.containers.values()].filter((c) => c.functionId === ids[name] && c.state !== "stopped");

  beforeAll(async () => {
    t = await startTestPlatform({ agents: 1 });
    const d = await t.deploy(SCALING_APP, "deployed");
    fns = Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as ScalingApp;
    ids = Object.fromEntries(d.response.functions.map((f) => [f.name, f.id]));
  });
  afterAll(() => t?.stop());

  it("minContainers start at deploy without any call and stay up past the scaledownWindow", async () => {
    await waitFor("two warm containers", () => (containersOf("alwaysWarm").filter((c) => c.state === "running").length === 2 ? true : undefined));
    const first = containersOf("alwaysWarm").map((c) => c.id).sort();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(containersOf("alwaysWarm").map((c) => c.id).sort()).toEqual(first);
    // A call is served by one of them: no cold start.
    expect(first).toContain(await fns.alwaysWarm.remote(0));
  });

  it("scaledownWindow 0 still serves the call it was started for, then scales down", async () => {
    expect(await fns.zeroWindow.remote(0)).toMatch(/^ct-/);
    await waitFor("the zero-window container to stop", () => (containersOf("zeroWindow").length === 0 ? true : undefined), 10_000);
  });

  it("bufferContainers keep spare containers beyond the busy ones while there is work, then drain", async () => {
    const call = fns.buffered.remote(2_000);
    await waitFor("a busy container and two spares", () => (containersOf("buffered").length >= 3 ? true : undefined));
    await call;
    await waitFor("the buffered containers to drain", () => (containersOf("buffered").length === 0 ? true : undefined));
  });
});
