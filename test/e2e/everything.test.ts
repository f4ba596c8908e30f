import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Dict, Queue, Sandbox, Volume } from "ferry";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";

/** examples/everything.ts: one deployed app using every object of issue 6 together. */

const EVERYTHING = join(REPO_ROOT, "examples/everything.ts");
type Everything = typeof import("../../examples/everything.ts");

describe("an app using every object deploys and works", () => {
  let t: TestPlatform;
  let fns: Everything;
  beforeAll(async () => {
    t = await startTestPlatform({ agents: 1 });
    await t.client.request("POST", "/v1/secrets", { name: "everything-greeting", values: { GREETING: "hello" } });
    const d = await t.deploy(EVERYTHING, "deployed");
    fns = Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as Everything;
  });
  afterAll(() => t?.stop());

  it("a class keeps its instance across calls in one container and writes the dict; with() gets its own", async () => {
    const first = await fns.Counter.bump.remote("a");
    const second = await fns.Counter.bump.remote("a");
    expect(second).toEqual({ seenByThisContainer: first.seenByThisContainer + 1, total: first.total + 1 });
    expect(await fns.Counter.with({ prefix: "other" }).bump.remote("a")).toEqual({ seenByThisContainer: 1, total: 1 });
    expect(await Dict.fromName("everything-counts").get("count:a")).toBe(second.total);
  });

  it("a queue hands jobs from one function to another, which writes them with its secret into a volume", async () => {
    expect(await fns.produce.remote(2)).toBe(2);
    expect(await fns.consume.remote()).toEqual({ job: 0 });
    expect(await Queue.fromName("everything-jobs").len()).toBe(1);
    const text = new TextDecoder().decode(await Volume.fromName("everything-data").read("/job-0.txt"));
    expect(text).toBe('hello {"job":0}');
  });

  it("the schedule runs while the app is deployed", async () => {
    const counts = Dict.fromName("everything-counts");
    await waitFor("two scheduled ticks", async () => (((await counts.get("ticks", 0)) as number) >= 2 ? true : undefined));
  });

  it("a sandbox of the app runs a command", async () => {
    const sb = await Sandbox.create({ app: "everything" });
    const p = await sb.exec(["sh", "-c", "echo sandbox says hi"]);
    expect(await p.stdout.readText()).toBe("sandbox says hi\n");
    expect(await p.wait()).toBe(0);
    await sb.terminate();
  });
});
