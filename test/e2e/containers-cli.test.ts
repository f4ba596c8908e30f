import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { App, Sandbox } from "ferry";
import { otherWorkspaceClient } from "../fixtures/other-workspace.ts";
import { FERRY_BIN, REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

const CONTAINER_APP = join(REPO_ROOT, "test/fixtures/apps/container-app.ts");

let t: TestPlatform;
let writeNote: { remote(text: string): Promise<string> };
let sandbox: Sandbox;

/** Run `ferry …` with `input` on its stdin (a pipe, not a TTY). */
const runCliWithInput = (args: ReadonlyArray<string>, input: string, env: NodeJS.ProcessEnv = t.env, timeoutMs = 60_000) => runCli(args, env, timeoutMs, input);

interface Listed { id: string; kind: string; containerId: string; app: string; function: string; agent: string; state: string; startedAt: number; idleSince: number | null }

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  const deployed = await t.deploy(CONTAINER_APP);
  writeNote = deployed.discovered.functions.find((f) => f.name === "writeNote")!.handle as unknown as typeof writeNote;
  sandbox = await Sandbox.create({ app: new App("containers-e2e") });
});
afterAll(async () => {
  await sandbox?.terminate().catch(() => undefined);
  await t?.stop();
});

describe("ferry container list", () => {
  it("lists the workspace's running function container and sandbox, as JSON and as a table", async () => {
    const containerId = await writeNote.remote("listed");
    const r = await runCli(["container", "list", "--json"], t.env);
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.stdout) as Listed[];
    expect(listed.find((c) => c.id === containerId)).toMatchObject({
      kind: "function", containerId, app: "containers-e2e", function: "writeNote", state: "running", agent: t.platform.agents[0]!.agentId,
    });
    const sb = listed.find((c) => c.id === sandbox.id);
    expect(sb).toMatchObject({ kind: "sandbox", app: "containers-e2e", state: "running", containerId: expect.stringMatching(/^ct-/) });
    expect(sb!.idleSince).toEqual(expect.any(Number));
    const table = await runCli(["container", "list"], t.env);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+KIND\s+APP\s+FUNCTION\s+AGENT\s+STATE\s+STARTED\s+IDLE SINCE$/);
    expect(table.stdout).toContain(containerId);
    expect(table.stdout).toContain(sandbox.id);
  });
});

describe("ferry container exec", () => {
  it("runs a command inside a function's live container: it reads the file the function wrote to /tmp", async () => {
    const containerId = await writeNote.remote("written by the function");
    const r = await runCliWithInput(["container", "exec", containerId, "--", "sh", "-c", "cat /tmp/note; echo; echo uid=$(id -u) fn=$FERRY_FUNCTION cwd=$(pwd)"], "");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("written by the function\nuid=1000 fn=writeNote cwd=/opt/ferry/app\n");
  });

  it("pipes stdin through and exits with the command's exit code", async () => {
    const containerId = await writeNote.remote("stdin");
    const r = await runCliWithInput(["container", "exec", containerId, "--", "sh", "-c", "cat; echo oops >&2; exit 7"], "piped in\n");
    expect(r).toEqual({ code: 7, stdout: "piped in\n", stderr: "oops\n" });
  });

  it("runs a command in a sandbox by its id", async () => {
    const r = await runCliWithInput(["container", "exec", sandbox.id, "--", "sh", "-c", "echo in $FERRY_SANDBOX_ID"], "");
    expect(r).toEqual({ code: 0, stdout: `in ${sandbox.id}\n`, stderr: "" });
  });

  it("another workspace's container, or an unknown one, is one error line and a non-zero exit", async () => {
    const containerId = await writeNote.remote("private");
    const secret = (await otherWorkspaceClient(t, "containers-other")).config.token;
    const other = await runCliWithInput(["container", "exec", containerId, "--", "cat", "/tmp/note"], "", { ...t.env, FERRY_TOKEN: secret });
    expect(other.code).toBe(1);
    expect(other.stdout).toBe("");
    expect(other.stderr.trim()).toBe(`error: FerryApiError: container ${containerId} not found`);
    const unknown = await runCliWithInput(["container", "exec", "ct-doesnotexist", "--", "true"], "");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("container ct-doesnotexist not found");
    const listed = await runCli(["container", "list", "--json"], { ...t.env, FERRY_TOKEN: secret });
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });
});

describe("ferry container logs", () => {
  it("prints that container's log lines, tagged with its function and id", async () => {
    const containerId = await writeNote.remote("log-marker-1");
    await new Promise((r) => setTimeout(r, 300));
    const r = await runCli(["container", "logs", containerId], t.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`[writeNote ${containerId}] noted log-marker-1`);
    const json = await runCli(["container", "logs", containerId, "--json"], t.env);
    const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { containerId: string; line: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.containerId === containerId)).toBe(true);
    expect(lines.map((l) => l.line)).toContain("noted log-marker-1");
  });

  it("-f follows new lines until the container is gone", async () => {
    const containerId = await writeNote.remote("before-follow");
    const child = spawn(process.execPath, [FERRY_BIN, "container", "logs", containerId, "-f"], { env: t.env, cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const seen = async (text: string) => {
      for (let i = 0; i < 100 && !out.includes(text); i++) await new Promise((r) => setTimeout(r, 100));
      return out.includes(text);
    };
    expect(await seen("noted before-follow")).toBe(true);
    await writeNote.remote("while-following");
    expect(await seen("noted while-following")).toBe(true);
    // Stopping the app stops its container: the follower ends by itself.
    await runCli(["app", "stop", "containers-e2e"], t.env);
    expect(await exited).toBe(0);
  });
});

describe("ferry shell", () => {
  it("driven through pipes, runs `echo hi` in a sandbox like the function's containers and exits", async () => {
    const r = await runCliWithInput(["shell", `${CONTAINER_APP}::roomy`], "echo hi\necho fn=$FERRY_FUNCTION in $(pwd) with $(ls /opt/ferry/app)\nexit\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("hi\nfn=roomy in /opt/ferry/app with app.mjs\n");
    expect(r.stderr).toMatch(/sandbox sb-[0-9a-z]+ is up/);
  });

  it("exits with the shell's status, and a function the app lacks is one error line", async () => {
    expect((await runCliWithInput(["shell", `${CONTAINER_APP}::roomy`], "exit 3\n")).code).toBe(3);
    const bad = await runCliWithInput(["shell", `${CONTAINER_APP}::nope`], "");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: app containers-e2e has no function nope (it has roomy, writeNote)");
  });
});
