import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Cls, Function, UnknownMethodError, type FerryApiError } from "ferry";
import { collect, REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";

/** Classes (`app.cls`) on the real platform: lifecycle, shared state, parametrised instances. */

const CLASS_APP = join(REPO_ROOT, "test/fixtures/apps/class-app.ts");
type ClassApp = typeof import("../fixtures/apps/class-app.ts");

describe("classes", () => {
  let t: TestPlatform;
  let app: ClassApp;

  beforeAll(async () => {
    t = await startTestPlatform({ agents: 1 });
    const d = await t.deploy(CLASS_APP, "deployed");
    app = Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as ClassApp;
  });
  afterAll(() => t?.stop());

  /** The app's log lines, as `ferry app logs --json` prints them. */
  const logLines = async () => {
    const cli = await runCli(["app", "logs", "classes-e2e", "--json"], t.env);
    return cli.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { containerId: string; functionName: string; line: string });
  };

  it("enter runs once per container before its first input, and methods share the instance's state", async () => {
    const a = await app.Counter.count.remote(1);
    const b = await app.Counter.count.remote(10);
    expect(b.container).toBe(a.container);
    expect(a).toMatchObject({ entered: 1, calls: 1, size: "base", fn: "Counter" });
    expect(b).toMatchObject({ entered: 1, calls: 11 });
    expect(await app.Counter.describe.remote("p")).toBe("p:base");
  });

  it("exit runs when the container scales down, with the instance's state", async () => {
    const { container, calls } = await app.Counter.count.remote(0);
    const line = await waitFor("the exit line of the scaled-down container", async () =>
      (await logLines()).find((l) => l.containerId === container && l.line.startsWith("exit ")), 30_000);
    expect(line.line).toBe(`exit ${container} size=base after ${calls} calls`);
    expect(line.functionName).toBe("Counter");
  });

  it("with() parameters get containers of their own that see the parameters; key order does not matter", async () => {
    const base = await app.Counter.count.remote(0);
    const small = app.Counter.with({ size: "small", calls: 100 });
    const s1 = await small.count.remote(1);
    expect(s1).toMatchObject({ size: "small", calls: 101, entered: 1 });
    expect(s1.container).not.toBe(base.container);
    expect(s1.fn).toMatch(/^Counter\.with\.[0-9a-f]{16}$/);
    // The same parameters, another key order: the same instance's container.
    const s2 = await app.Counter.with({ calls: 100, size: "small" }).count.remote(1);
    expect(s2.container).toBe(s1.container);
    expect(s2.calls).toBe(102);
    expect(await app.Counter.with({ size: "large" }).describe.remote("p")).toBe("p:large");
    // Every method handle works on an instance: map, spawn.
    expect(await collect(small.describe.map(["a", "b"]))).toEqual(["a:small", "b:small"]);
    expect(await (await small.describe.spawn("s")).get({ timeout: 30 })).toBe("s:small");
  });

  it("parametrised instances are listed as their class", async () => {
    const cli = await runCli(["app", "list", "--json"], t.env);
    const listed = (JSON.parse(cli.stdout) as Array<{ name: string; functions: string[] }>).find((a) => a.name === "classes-e2e");
    expect(listed?.functions.sort()).toEqual(["Broken", "Counter", "Keeper"]);
  });

  it("with() parameters that are not structured values are refused, naming the path; large ones with 413", async () => {
    expect(() => app.Counter.with({ size: (() => "x") as unknown as string })).toThrow("params.size");
    expect(() => app.Counter.with(null as unknown as { size: string })).toThrow("plain object");
    await expect(app.Counter.with({ size: "x".repeat(20_000) }).count.remote(1))
      .rejects.toMatchObject({ status: 413, type: "PayloadTooLargeError", message: expect.stringContaining("maxClassParamsBytes") });
  });

  it("an unknown method is refused with the class's methods, locally and in the container", async () => {
    expect(() => app.Counter.method("nosuch")).toThrow(UnknownMethodError);
    expect(() => app.Counter.method("nosuch")).toThrow('class Counter has no method "nosuch"; its methods are count, describe');
    // A handle that does not know the class's methods (a raw function lookup) reaches the container.
    const raw = await Function.lookup<[string, number], unknown>("classes-e2e", "Counter");
    const err = await raw.remote("nosuch", 1).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe("UnknownMethodError");
    expect((err as Error).message).toContain('has no method "nosuch"; its methods are count, describe');
    // Lifecycle hooks are not methods.
    await expect(raw.remote("enter", 0)).rejects.toThrow('has no method "enter"');
  });

  it("a throwing enter fails the inputs with its error", async () => {
    const err = await app.Broken.run.remote().catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe("RangeError");
    expect((err as Error).message).toBe("weights missing at enter");
  });

  it("Cls.lookup gives a handle with the deployed methods; .local runs in this process with enter first", async () => {
    const looked = await Cls.lookup("classes-e2e", "Counter");
    expect(looked.methods).toEqual(["count", "describe"]);
    expect(await looked.method<[string], string>("describe").remote("q")).toBe("q:base");
    await expect(Cls.lookup("classes-e2e", "nothing")).rejects.toMatchObject({ status: 404 } satisfies Partial<FerryApiError>);
    const local = await app.Counter.with({ size: "tiny" }).count.local(2);
    expect(local).toMatchObject({ entered: 1, calls: 2, size: "tiny" });
  });

  it("a redeploy that changes nothing keeps a parametrised instance, its container and its state", async () => {
    const kept = app.Keeper.with({ tag: "kept" });
    const first = await kept.bump.remote();
    expect(first).toMatchObject({ tag: "kept", bumps: 1 });
    const again = await t.deploy(CLASS_APP, "deployed");
    expect((again.response as { restarted?: string[] }).restarted).toEqual([]);
    const second = await kept.bump.remote();
    expect(second).toEqual({ tag: "kept", bumps: 2, container: first.container });
  });

  it("exit runs when the app is stopped", async () => {
    const { container, bumps } = await app.Keeper.with({ tag: "stopping" }).bump.remote();
    expect((await runCli(["app", "stop", "classes-e2e"], t.env)).code).toBe(0);
    const line = await waitFor("the exit line of the stopped app's container", async () =>
      (await logLines()).find((l) => l.containerId === container && l.line.startsWith("keeper exit ")), 30_000);
    expect(line.line).toBe(`keeper exit ${container} tag=stopping bumps=${bumps}`);
  });
});
