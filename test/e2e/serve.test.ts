import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Function } from "ferry";
import { FERRY_BIN, REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";

/** `ferry serve FILE`: deploy, redeploy on every save, keep unchanged containers, stop on Ctrl-C. */

const FIXTURES = join(REPO_ROOT, "test/fixtures/apps");

describe("ferry serve", () => {
  let t: TestPlatform;
  let dir: string;
  let serve: ChildProcess;
  let out = "";
  let err = "";
  const lines = () => out.split("\n").filter(Boolean);
  const redeploys = () => lines().filter((l) => l.startsWith("redeployed app serve-e2e"));

  beforeAll(async () => {
    t = await startTestPlatform({ agents: 1 });
    dir = await mkdtemp(join(tmpdir(), "ferry-serve-"));
    for (const f of ["serve-app.ts", "serve-greeting.ts"]) await copyFile(join(FIXTURES, f), join(dir, f));
    serve = spawn(process.execPath, [FERRY_BIN, "serve", join(dir, "serve-app.ts")], { env: t.env, cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    serve.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    serve.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    await waitFor("ferry serve to deploy", () => (out.includes("Ctrl-C stops the app") ? true : undefined), 60_000).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\nstdout: ${out}\nstderr: ${err}`);
    });
  });
  afterAll(async () => {
    if (serve && serve.exitCode === null) serve.kill("SIGKILL");
    await t?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const hello = async () => (await Function.lookup<[], { greeting: string; container: string }>("serve-e2e", "hello")).remote();

  it("deploys the app and says what it watches", async () => {
    expect(lines()[0]).toMatch(/^serving app serve-e2e \(ap-[0-9a-z]+\) in environment main: hello, other$/);
    expect(lines()[1]).toBe("watching 2 files; Ctrl-C stops the app");
    expect(await hello()).toMatchObject({ greeting: "v1" });
  });

  it("a saved change to an imported file is redeployed, and the new code answers in a new container", async () => {
    const before = await hello();
    await writeFile(join(dir, "serve-greeting.ts"), 'export const greeting = "v2";\n');
    await waitFor("the redeploy", () => (redeploys().length >= 1 ? true : undefined));
    expect(redeploys()[0]).toMatch(/^redeployed app serve-e2e: bundle [0-9a-f]{12}; restarted hello, other$/);
    const after = await hello();
    expect(after.greeting).toBe("v2");
    expect(after.container).not.toBe(before.container);
  });

  it("a save that changes nothing redeploys without restarting: the same container answers", async () => {
    const before = await hello();
    const count = redeploys().length;
    const file = join(dir, "serve-app.ts");
    await writeFile(file, await readFile(file));
    await waitFor("the no-op redeploy", () => (redeploys().length > count ? true : undefined));
    expect(redeploys().at(-1)).toMatch(/^redeployed app serve-e2e: no change \(bundle [0-9a-f]{12}\); containers kept$/);
    const after = await hello();
    expect(after).toEqual(before);
  });

  it("editing one function's body restarts only it: the other keeps its container, the edited one answers with the new code", async () => {
    const other = async () => (await Function.lookup<[], { version: string; container: string }>("serve-e2e", "other")).remote();
    const [helloBefore, otherBefore] = [await hello(), await other()];
    expect(otherBefore.version).toBe("o1");
    const count = redeploys().length;
    const file = join(dir, "serve-app.ts");
    await writeFile(file, (await readFile(file, "utf8")).replace('version: "o1"', 'version: "o2"'));
    await waitFor("the redeploy of other", () => (redeploys().length > count ? true : undefined));
    expect(redeploys().at(-1)).toMatch(/^redeployed app serve-e2e: bundle [0-9a-f]{12}; restarted other$/);
    const otherAfter = await other();
    expect(otherAfter.version).toBe("o2");
    expect(otherAfter.container).not.toBe(otherBefore.container);
    // Kept: the same container, still answering from the code it loaded.
    expect(await hello()).toEqual(helloBefore);
  });

  it("a save that does not bundle keeps the last deploy serving", async () => {
    await writeFile(join(dir, "serve-greeting.ts"), "export const greeting = ;\n");
    await waitFor("the bundling error", () => (err.includes("keeping the last deploy") ? true : undefined));
    expect((await hello()).greeting).toBe("v2");
  });

  it("Ctrl-C stops the app and ends the command", async () => {
    const exited = new Promise<number | null>((resolve) => serve.once("exit", resolve));
    serve.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(lines().at(-1)).toBe("stopped app serve-e2e");
    const listed = JSON.parse((await runCli(["app", "list", "--json"], t.env)).stdout) as Array<{ name: string; state: string }>;
    expect(listed.find((a) => a.name === "serve-e2e")?.state).toBe("stopped");
  });

  it("refuses to serve an app that is deployed for good in the same environment", async () => {
    await t.deploy(join(FIXTURES, "serve-app.ts"), "deployed");
    const r = await runCli(["serve", join(FIXTURES, "serve-app.ts")], t.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("app serve-e2e is deployed and running in environment main");
  });
});
