import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { App, Image, Sandbox, type ContainerProcess } from "ferry";
import { deployFile } from "../../sdk/src/cli/deploy-file.ts";
import { parseSimulatedGpus } from "@ferry/gpu-agent";
import { createCgroup } from "../../gpu-agent/src/sandbox/index.ts";
import { otherWorkspaceClient } from "../fixtures/other-workspace.ts";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

const SNAPSHOT_APP = join(REPO_ROOT, "test/fixtures/apps/snapshot-app.ts");
type SnapshotApp = typeof import("../fixtures/apps/snapshot-app.ts");

let t: TestPlatform;
const app = new App("sandboxes-e2e");
const sandboxes: Sandbox[] = [];

/** A sandbox that is terminated after the file's tests. */
const sandbox = async (options: Omit<Parameters<typeof Sandbox.create>[0], "app"> = {}): Promise<Sandbox> => {
  const sb = await Sandbox.create({ app, ...options });
  sandboxes.push(sb);
  return sb;
};

/** Stdout, stderr and exit code of a finished process. */
const outcome = async (p: ContainerProcess) => {
  const [stdout, stderr, code] = await Promise.all([p.stdout.readText(), p.stderr.readText(), p.wait()]);
  return { stdout, stderr, code };
};

/** Whether this host can hold a sandbox to a memory limit (a writable memory cgroup). */
const memoryLimitWorks = (() => {
  const r = createCgroup(`probe-sbx-${process.pid}`, { memoryMiB: 64 });
  if (r.applied) void r.cgroup.remove();
  return r.applied && r.skipped.length === 0;
})();

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
});
afterAll(async () => {
  for (const sb of sandboxes) await sb.terminate().catch(() => undefined);
  await t?.stop();
});

describe("Sandbox.create and exec", () => {
  it("runs a command in a new sandbox and returns its stdout and exit code", async () => {
    const sb = await sandbox();
    expect(sb.id).toMatch(/^sb-[0-9a-z]{16}$/);
    const r = await outcome(await sb.exec(["bash", "-c", "echo hello from $FERRY_SANDBOX_ID in $(pwd) as $(id -u)"]));
    expect(r).toEqual({ stdout: `hello from ${sb.id} in /workspace as 1000\n`, stderr: "", code: 0 });
    const info = await sb.info();
    expect(info).toMatchObject({ id: sb.id, state: "running", app: { name: "sandboxes-e2e" }, timeout: 300, memory: 512, workdir: "/workspace" });
  });

  it("streams stdin to a running process: cat echoes each write before stdin ends", async () => {
    const sb = await sandbox();
    const p = await sb.exec(["cat"]);
    const out = p.stdout[Symbol.asyncIterator]();
    await p.stdin.write("first line\n");
    expect((await out.next()).value).toBe("first line\n");
    await p.stdin.write(new TextEncoder().encode("second line\n"));
    expect((await out.next()).value).toBe("second line\n");
    await p.stdin.end();
    expect((await out.next()).done).toBe(true);
    expect(await p.wait()).toBe(0);
    await expect(p.stdin.write("too late")).rejects.toThrow(/stdin is closed/);
  });

  it("keeps stderr apart from stdout", async () => {
    const sb = await sandbox();
    const r = await outcome(await sb.exec(["bash", "-c", "echo to-out; echo to-err >&2; echo more-out"]));
    expect(r.stdout).toBe("to-out\nmore-out\n");
    expect(r.stderr).toBe("to-err\n");
  });

  it("reports exit codes: the process's own, 127 for a missing command, 128+N for a signal", async () => {
    const sb = await sandbox();
    expect(await (await sb.exec(["bash", "-c", "exit 3"])).wait()).toBe(3);
    const missing = await sb.exec(["no-such-command", "--flag"]);
    const r = await outcome(missing);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('cannot run "no-such-command": not found');
    expect(missing.exit?.reason).toBe('cannot run "no-such-command": not found');
    const killed = await sb.exec(["bash", "-c", "kill -TERM $$"]);
    expect(await killed.wait()).toBe(143);
    expect(killed.exit?.signal).toBe("SIGTERM");
  });

  it("runs two execs at once in one sandbox", async () => {
    const sb = await sandbox();
    // The first finishes only once the second has run: they cannot be serialised.
    const waiter = await sb.exec(["bash", "-c", "for i in $(seq 100); do [ -f /tmp/go ] && echo saw-go && exit 0; sleep 0.05; done; exit 1"]);
    const starter = await sb.exec(["bash", "-c", "touch /tmp/go; echo started"]);
    expect(await outcome(starter)).toMatchObject({ stdout: "started\n", code: 0 });
    expect(await outcome(waiter)).toMatchObject({ stdout: "saw-go\n", code: 0 });
  });

  it("runs a process on a pseudo-terminal when asked (interactive shells)", async () => {
    const sb = await sandbox();
    const onPty = await outcome(await sb.exec(["bash", "-c", "tty; [ -t 0 ] && echo stdin-is-a-terminal"], { pty: true }));
    expect(onPty.stdout).toMatch(/^\/dev\/pts\/\d+\r?\nstdin-is-a-terminal\r?\n$/);
    expect(onPty.code).toBe(0);
    const piped = await outcome(await sb.exec(["tty"]));
    expect(piped).toMatchObject({ stdout: "not a tty\n", code: 1 });
  });

  it("passes env and workdir, and refuses a workdir that does not exist", async () => {
    const sb = await sandbox({ env: { GREETING: "hi" } });
    const r = await outcome(await sb.exec(["bash", "-c", "echo $GREETING $EXTRA $(pwd)"], { env: { EXTRA: "there" }, workdir: "/tmp" }));
    expect(r.stdout).toBe("hi there /tmp\n");
    const bad = await outcome(await sb.exec(["true"], { workdir: "/no/such/dir" }));
    expect(bad.code).toBe(127);
    expect(bad.stderr).toContain("working directory /no/such/dir does not exist");
  });
});

describe("the end of a sandbox", () => {
  it("terminate ends the running execs and the sandbox, and later execs are refused", async () => {
    const sb = await sandbox();
    const sleeper = await sb.exec(["sleep", "60"]);
    await sb.terminate();
    expect(await sleeper.wait()).toBe(137);
    expect(sleeper.exit?.reason).toBe("sandbox terminated (terminated)");
    expect(await sb.info()).toMatchObject({ state: "terminated", exitReason: "terminated", terminatedAt: expect.any(Number) });
    await expect(sb.exec(["echo", "hi"])).rejects.toMatchObject({ status: 409, message: expect.stringContaining("has terminated") });
    // Terminating again is harmless.
    await sb.terminate();
  });

  it("a sandbox past its timeout is terminated, with the timeout as its reason", async () => {
    const sb = await sandbox({ timeout: 2 });
    const sleeper = await sb.exec(["sleep", "30"]);
    expect(await sleeper.wait()).toBe(137);
    expect(sleeper.exit?.reason).toMatch(/^sandbox terminated \(timeout: the sandbox reached its timeout of 2s\)$/);
    const info = await sb.wait({ timeout: 10 });
    expect(info.exitReason).toBe("timeout: the sandbox reached its timeout of 2s");
    expect(info.terminatedAt! - info.createdAt).toBeGreaterThanOrEqual(2_000);
  });

  it("idleTimeout ends a sandbox once no exec has run for that long, but never during an exec", async () => {
    const sb = await sandbox({ idleTimeout: 1 });
    // Longer than the idle timeout: the sandbox stays up while it runs.
    expect(await outcome(await sb.exec(["bash", "-c", "sleep 1.8; echo done"]))).toMatchObject({ stdout: "done\n", code: 0 });
    const info = await sb.wait({ timeout: 10 });
    expect(info.exitReason).toBe("idle timeout: no exec ran for 1s");
  });

  it("stopping its app terminates the sandbox, and a stopped app takes no new ones", async () => {
    const sb = await Sandbox.create({ app: "sandboxes-stopped-e2e" });
    sandboxes.push(sb);
    const sleeper = await sb.exec(["sleep", "60"]);
    await t.client.request("POST", "/v1/apps/sandboxes-stopped-e2e/stop");
    expect(await sleeper.wait()).toBe(137);
    expect(await sb.info()).toMatchObject({ state: "terminated", exitReason: "app stopped" });
    await expect(Sandbox.create({ app: "sandboxes-stopped-e2e" })).rejects.toMatchObject({ status: 409, message: expect.stringContaining("is stopped") });
  });

  it.skipIf(!memoryLimitWorks)("a process over the sandbox's memory is OOM-killed and reported; the sandbox and others live on", async () => {
    const small = await sandbox({ memory: 128 });
    const other = await sandbox();
    const hog = await small.exec(["node", "-e", "const held = []; for (;;) held.push(Buffer.alloc(8 * 1024 * 1024, 1));"]);
    expect(await hog.wait()).toBe(137);
    expect(hog.exit).toMatchObject({ signal: "SIGKILL", oomKilled: true, reason: "out of memory: the sandbox went over its memory limit of 128 MiB" });
    expect((await outcome(await small.exec(["echo", "still here"]))).stdout).toBe("still here\n");
    expect((await outcome(await other.exec(["echo", "unaffected"]))).stdout).toBe("unaffected\n");
    expect((await small.info()).state).toBe("running");
  });
});

describe("snapshots", () => {
  it("a sandbox started from a snapshot sees the snapshotted files of /workspace and /tmp", async () => {
    const sb = await sandbox();
    expect(await (await sb.exec(["bash", "-c", "mkdir -p /workspace/data && echo kept > /workspace/data/notes.txt && echo scratch > /tmp/t.txt"])).wait()).toBe(0);
    const snap = await sb.snapshotFilesystem();
    expect(snap).toBeInstanceOf(Image);
    expect(snap.base).toEqual({ kind: "snapshot", id: expect.stringMatching(/^sn-/) });
    const info = await t.client.request<{ sandboxId: string; hash: string; sizeBytes: number; imageId: string }>("GET", `/v1/sandboxes/snapshots/${snap.snapshotId}`);
    expect(info).toMatchObject({ sandboxId: sb.id, hash: expect.stringMatching(/^[0-9a-f]{64}$/), imageId: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(info.sizeBytes).toBeGreaterThan(0);
    // Later changes are not in the snapshot.
    await (await sb.exec(["bash", "-c", "echo changed > /workspace/data/notes.txt"])).wait();
    const restored = await sandbox({ image: snap });
    expect(await outcome(await restored.exec(["bash", "-c", "cat /workspace/data/notes.txt /tmp/t.txt"]))).toEqual({ stdout: "kept\nscratch\n", stderr: "", code: 0 });
    // By id too, from any process.
    const byId = await sandbox({ image: snap.snapshotId });
    expect((await outcome(await byId.exec(["cat", "/workspace/data/notes.txt"]))).stdout).toBe("kept\n");
  });
});

describe("snapshots are images", () => {
  it("a function deployed with image: snapshot reads the sandbox's /workspace (its working directory), and so does a new sandbox", async () => {
    const sb = await sandbox();
    expect(await (await sb.exec(["bash", "-c", "echo from-sandbox > /workspace/x"])).wait()).toBe(0);
    const snap = await sb.snapshotFilesystem();
    process.env.FERRY_TEST_SNAPSHOT = snap.snapshotId;
    const d = await t.deploy(SNAPSHOT_APP);
    const readX = d.discovered.functions.find((f) => f.name === "readX")!.handle as unknown as SnapshotApp["readX"];
    expect(await readX.remote()).toEqual({ x: "from-sandbox\n", relative: "from-sandbox\n", cwd: "/workspace" });
    const again = await sandbox({ image: snap });
    expect((await outcome(await again.exec(["cat", "/workspace/x"]))).stdout).toBe("from-sandbox\n");
    // Room for the sandboxes of later tests.
    await Promise.all([sb.terminate(), again.terminate()]);
    // Build steps on top of a snapshot type-check, and deploy refuses them by name; a sandbox refuses them at once.
    await expect(Sandbox.create({ app, image: snap.runCommands("true") })).rejects.toThrow("no steps added");
    process.env.FERRY_TEST_SNAPSHOT_STEP = "true";
    try {
      await expect(deployFile(t.client, SNAPSHOT_APP, { mode: "ephemeral" })).rejects.toThrow(`functions readX: build steps on top of a snapshot (${snap.snapshotId}) are not supported yet`);
    } finally {
      delete process.env.FERRY_TEST_SNAPSHOT_STEP;
    }
  });

  it("another workspace's snapshot is not found, for a deploy and for a sandbox", async () => {
    const sb = await sandbox();
    const snap = await sb.snapshotFilesystem();
    const other = await otherWorkspaceClient(t, "sandboxes-snapshot-other");
    process.env.FERRY_TEST_SNAPSHOT = snap.snapshotId;
    await expect(deployFile(other, SNAPSHOT_APP, { mode: "ephemeral" })).rejects.toMatchObject({ status: 404, message: `image ${snap.snapshotId} not found` });
    await expect(Sandbox.create({ app: "snapshot-other", image: snap }, other)).rejects.toMatchObject({ status: 404, message: `image ${snap.snapshotId} not found` });
    await expect(other.request("GET", `/v1/sandboxes/snapshots/${snap.snapshotId}`)).rejects.toMatchObject({ status: 404 });
    await sb.terminate();
  });
});

describe("bad requests and ownership", () => {
  it("refuses bad options, naming the field at fault", async () => {
    await expect(Sandbox.create({ app, timeout: 0 })).rejects.toMatchObject({ status: 400, field: "body.timeout" });
    await expect(Sandbox.create({ app, timeout: 90_000 })).rejects.toMatchObject({ status: 400, field: "body.timeout" });
    await expect(Sandbox.create({ app, gpu: "H1000" })).rejects.toMatchObject({ status: 400, field: "body.gpu", message: expect.stringContaining("H100") });
    await expect(Sandbox.create({ app, workdir: "relative/dir" })).rejects.toMatchObject({ status: 400, field: "body.workdir" });
    await expect(Sandbox.create({ app: "not a valid name!" })).rejects.toMatchObject({ status: 400, field: "body.app" });
    await expect(Sandbox.create({ app, image: "sn-doesnotexist0000" })).rejects.toMatchObject({ status: 404, message: "image sn-doesnotexist0000 not found" });
    await expect(Sandbox.create({ app, gpu: "H100" })).rejects.toMatchObject({ status: 503, message: expect.stringContaining("gpu H100") });
    const sb = await sandbox();
    await expect(sb.exec([])).rejects.toMatchObject({ status: 400, field: "body.command" });
  });

  it("another workspace's sandbox answers 404 to every operation, and does not show in its listing", async () => {
    const sb = await sandbox();
    const other = await otherWorkspaceClient(t, "sandboxes-other");
    const theirs = Sandbox.fromId(sb.id, other);
    await expect(theirs.info()).rejects.toMatchObject({ status: 404, message: `sandbox ${sb.id} not found` });
    await expect(theirs.exec(["echo", "hi"])).rejects.toMatchObject({ status: 404 });
    await expect(theirs.snapshotFilesystem()).rejects.toMatchObject({ status: 404 });
    await expect(theirs.terminate()).rejects.toMatchObject({ status: 404 });
    const listed = await other.request<{ containers: Array<{ id: string }> }>("GET", "/v1/containers");
    expect(listed.containers.map((c) => c.id)).not.toContain(sb.id);
    // Still running for its owner.
    expect((await sb.info()).state).toBe("running");
  });

  it("an unknown sandbox id is 404", async () => {
    await expect(Sandbox.fromId("sb-doesnotexist0000").info()).rejects.toMatchObject({ status: 404 });
  });
});

describe("GPUs", () => {
  it("a sandbox asking for GPUs is placed on an agent that has them and sees only its own", async () => {
    await t.platform.addAgent({ cloud: "lambda", gpus: parseSimulatedGpus("H100:2") });
    const sb = await sandbox({ gpu: "H100:2" });
    const r = await outcome(await sb.exec(["bash", "-c", "echo $FERRY_GPU $CUDA_VISIBLE_DEVICES $FERRY_CLOUD"]));
    expect(r.stdout).toBe("H100:2 0,1 lambda\n");
    // Both GPUs are held while it lives: another sandbox cannot have them.
    await expect(Sandbox.create({ app, gpu: "H100" })).rejects.toMatchObject({ status: 503 });
    await sb.terminate();
    const next = await sandbox({ gpu: "H100" });
    expect((await outcome(await next.exec(["bash", "-c", "echo $FERRY_GPU"]))).stdout).toBe("H100:1\n");
  });
});
