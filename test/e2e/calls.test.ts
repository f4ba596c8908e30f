import { describe, expect, it } from "vitest";
import { FunctionCall, FunctionCallCancelledError, FunctionTimeoutError } from "ferry";
import { BASIC_APP, collect, runCli, useBasicApp } from "../fixtures/platform.ts";

const ctx = useBasicApp({ agents: 1 });

describe("calls through edge → region → agent → sandbox", () => {
  it("remote returns the function's result computed in a container", async () => {
    expect(await ctx.fns.square.remote(12)).toBe(144);
  });

  it("structured values round-trip exactly through a container", async () => {
    const value = {
      when: new Date("2026-11-27T10:00:00Z"), big: 2n ** 70n, bytes: new Uint8Array([0, 1, 255]),
      map: new Map([["k", new Set([1, 2])]]), nothing: undefined, nan: Number.NaN, nested: [null, -0],
    };
    expect(await ctx.fns.echo.remote(value)).toEqual(value);
  });

  it("map of 10,000 inputs returns every output, complete and in order", async () => {
    const inputs = Array.from({ length: 10_000 }, (_, i) => i);
    const out = await collect(ctx.fns.square.map(inputs));
    expect(out).toHaveLength(10_000);
    expect(out).toEqual(inputs.map((i) => i * i));
  });

  it("map with orderOutputs false returns each output exactly once", async () => {
    const out = await collect(ctx.fns.slowSquare.map(Array.from({ length: 200 }, (_, i) => i), { orderOutputs: false }));
    expect([...out].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i * i).sort((a, b) => a - b));
  });

  it("starmap spreads each argument list; forEach resolves when all inputs are done", async () => {
    expect(await collect(ctx.fns.flaky.starmap([["sm-a", 1], ["sm-b", 1]]))).toEqual([1, 1]);
    await expect(ctx.fns.square.forEach([1, 2, 3])).resolves.toBeUndefined();
  });

  it("a remote throw rejects with the same name and message, the remote stack and the input id", async () => {
    const err = await ctx.fns.fail.remote("over quota").catch((e: unknown) => e as Error & { inputId?: string });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("QuotaExceeded");
    expect(err.message).toBe("over quota");
    expect(err.inputId).toMatch(/^fc-[0-9a-z]+:0$/);
    expect(err.stack).toContain("QuotaExceeded: over quota");
  });

  it("map throws the first remote error, or returns it as a value with returnExceptions", async () => {
    await expect(collect(ctx.fns.fail.map(["a", "b"]))).rejects.toThrow("a");
    const out = await collect(ctx.fns.fail.map(["x", "y"], { returnExceptions: true }));
    expect(out.map((e) => (e as Error).message)).toEqual(["x", "y"]);
  });

  it("an input over its timeout rejects with FunctionTimeoutError", async () => {
    const err = await ctx.fns.sleepy.remote(5_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FunctionTimeoutError);
    expect((err as Error).message).toMatch(/timeout of 1s/);
    // The function still works after its container was killed for the timeout.
    expect(await ctx.fns.sleepy.remote(10)).toBe(10);
  });

  it("retries run a failing input again until it succeeds", async () => {
    expect(await ctx.fns.flaky.remote("retry-ok", 3)).toBe(3);
  });

  it("retries exhausted: the last attempt's error reaches the caller", async () => {
    await expect(ctx.fns.flaky.remote("retry-exhausted", 10)).rejects.toThrow("attempt 3 fails");
  });

  it("a function asking for a GPU no agent offers fails at once with the reason", async () => {
    await expect(ctx.fns.needsGpu.remote()).rejects.toMatchObject({ status: 503, type: "UnavailableError", message: expect.stringContaining("no agent in this region offers gpu H100") });
  });

  it("an unserializable argument is refused before sending, naming its path", async () => {
    await expect(ctx.fns.echo.remote({ user: { callback: () => 1 } })).rejects.toThrow("args[0].user.callback");
    await expect(collect(ctx.fns.echo.map([1, Symbol("s")]))).rejects.toThrow("inputs[1]");
  });

  it("spawn returns at once and any process can get the result by call id", async () => {
    const call = await ctx.fns.square.spawn(9);
    expect(call.id).toMatch(/^fc-/);
    const cli = await runCli(["call", "get", call.id, "--timeout", "30"], ctx.t.env);
    expect(cli.stderr).toBe("");
    expect(cli.stdout.trim()).toBe("81");
    expect(await FunctionCall.fromId<number>(call.id).get({ timeout: 30 })).toBe(81);
  });

  it("a cancelled call rejects get with FunctionCallCancelledError", async () => {
    const call = await ctx.fns.sleepy.spawn(800);
    await call.cancel();
    await expect(call.get({ timeout: 10 })).rejects.toBeInstanceOf(FunctionCallCancelledError);
  });

  it("containers scale to zero after scaledownWindow and a new one starts on demand", async () => {
    const first = await ctx.fns.whoami.remote();
    expect(first.app).toBe("e2e");
    expect(first.fn).toBe("whoami");
    const agent = ctx.t.platform.agents[0];
    const alive = () => [...agent.containers.values()].filter((c) => c.id === first.container).length;
    expect(alive()).toBe(1);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(alive()).toBe(0);
    const second = await ctx.fns.whoami.remote();
    expect(second.container).not.toBe(first.container);
  });

  it("container output becomes log lines tagged with app, function, container and input", async () => {
    await ctx.fns.chatty.remote("marker-42");
    await new Promise((r) => setTimeout(r, 200));
    const cli = await runCli(["app", "logs", "e2e", "--json"], ctx.t.env);
    expect(cli.code).toBe(0);
    const lines = cli.stdout.trim().split("\n").filter(Boolean)
      .map((l) => JSON.parse(l) as { appId: string; functionName: string; containerId: string; inputId?: string; stream: string; line: string });
    const said = lines.find((l) => l.line === "said marker-42");
    const warned = lines.find((l) => l.line === "warned marker-42");
    expect(said).toMatchObject({ functionName: "chatty", stream: "stdout" });
    expect(warned).toMatchObject({ functionName: "chatty", stream: "stderr" });
    expect(said!.containerId).toMatch(/^ct-/);
    expect(said!.appId).toMatch(/^ap-/);
    expect(said!.inputId).toMatch(/^fc-[0-9a-z]+:0$/);
  });
});

describe("an app that fails to load in its container", () => {
  it("fails the call with the import error instead of hanging", async () => {
    const broken = (await ctx.t.deploy(BASIC_APP.replace("basic-app", "broken-app"))).discovered.functions[0].handle as unknown as { remote(): Promise<string> };
    await expect(broken.remote()).rejects.toThrow("config file missing at import");
  });
});
