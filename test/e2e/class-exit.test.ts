import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Dict } from "ferry";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";
import { EXIT_DICT } from "../fixtures/apps/class-exit-app.ts";

/** A class's `exit` runs when its container ends for reasons other than scaling down. */

const APP = join(REPO_ROOT, "test/fixtures/apps/class-exit-app.ts");
type ClassExitApp = typeof import("../fixtures/apps/class-exit-app.ts");

const deployApp = async (t: TestPlatform): Promise<ClassExitApp> => {
  const d = await t.deploy(APP, "deployed");
  return Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as ClassExitApp;
};

const markOf = (container: string) => waitFor(`the exit mark of ${container}`, async () =>
  (await Dict.fromName(EXIT_DICT, { createIfMissing: true }).get(container)) as string | undefined, 30_000);

describe("class exit", () => {
  it("runs, with the platform's API, when the agent running the container is terminated (SIGTERM)", async () => {
    // No in-process agent: the agent is its own process, so it can be signalled.
    const t = await startTestPlatform({ agents: 0 });
    try {
      const agent = await t.spawnAgent();
      const app = await deployApp(t);
      const container = await app.Warm.ping.remote();
      expect(await app.Warm.ping.remote()).toBe(container);
      const gone = new Promise((resolve) => agent.once("exit", resolve));
      agent.kill("SIGTERM");
      await gone;
      expect(await markOf(container)).toBe("agent shutdown after 2 calls");
    } finally {
      await t.stop();
    }
  }, 120_000);

  it("runs when an input times out, before the container is killed", async () => {
    const t = await startTestPlatform({ agents: 1 });
    try {
      const app = await deployApp(t);
      const container = await app.Stuck.whoami.remote();
      await expect(app.Stuck.hang.remote()).rejects.toMatchObject({ message: expect.stringContaining("timeout") });
      expect(await markOf(container)).toBe("input timeout");
    } finally {
      await t.stop();
    }
  }, 120_000);
});
