import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Function } from "ferry";
import { BASIC_APP, REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
});
afterAll(() => t?.stop());

describe("ferry CLI", () => {
  it("ferry run with no platform configured starts an embedded one and prints hello.ts's results", async () => {
    const home = await mkdtemp(join(tmpdir(), "ferry-empty-home-"));
    const env = { ...process.env, FERRY_HOME: home, FERRY_URL: "", FERRY_TOKEN: "" };
    const r = await runCli(["run", join(REPO_ROOT, "examples/hello.ts")], env, 90_000);
    expect(r.stderr).toContain("starting an embedded one");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("square.remote(7) = 49");
    expect(r.stdout).toContain("square.map(1..10) = 1 4 9 16 25 36 49 64 81 100");
    expect(r.stdout).toContain("greeting: 'hello, ferry'");
    // Container output is tagged with the function and container that wrote it.
    expect(r.stdout).toMatch(/\[square ct-[0-9a-z]+\] squaring 7 in ct-/);
  });

  it("ferry run FILE::fn calls one function with arguments and prints its result", async () => {
    const r = await runCli(["run", `${BASIC_APP}::square`, "--", "11"], t.env);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("121");
  });

  it("deploy, look up, list and stop an app", async () => {
    const deployed = await runCli(["deploy", BASIC_APP, "--json"], t.env);
    expect(deployed.code).toBe(0);
    const body = JSON.parse(deployed.stdout) as { app: { name: string }; functions: Array<{ name: string }> };
    expect(body.app.name).toBe("e2e");
    expect(body.functions.map((f) => f.name)).toContain("square");

    const square = await Function.lookup<[number], number>("e2e", "square");
    expect(await square.remote(6)).toBe(36);

    const list = await runCli(["app", "list", "--json"], t.env);
    const apps = JSON.parse(list.stdout) as Array<{ name: string; mode: string; state: string }>;
    expect(apps.find((a) => a.name === "e2e" && a.mode === "deployed")?.state).toBe("running");

    const stopped = await runCli(["app", "stop", "e2e"], t.env);
    expect(stopped.code).toBe(0);
    await expect(Function.lookup("e2e", "square")).rejects.toThrow(/stopped/);
  });

  it("token new prints a secret once; token list never shows secrets", async () => {
    const created = await runCli(["token", "new", "--name", "ci", "--json"], t.env);
    const token = JSON.parse(created.stdout) as { id: string; token: string };
    expect(token.token).toMatch(/^fry_[0-9a-f]{48}$/);
    const listed = await runCli(["token", "list", "--json"], t.env);
    expect(listed.stdout).toContain(token.id);
    expect(listed.stdout).not.toContain("fry_");
  });

  it("errors are one line and a non-zero exit, without a stack trace", async () => {
    const r = await runCli(["deploy", "does-not-exist.ts"], t.env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
