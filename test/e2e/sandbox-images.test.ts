import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { App, Image, Sandbox, type ContainerProcess } from "ferry";
import { DEBIAN_BASE_CACHE, hasCachedDebianBase, hasMmdebstrap, seedDebianBase } from "../fixtures/debian-base.ts";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";

const SANDBOX_IMAGE_APP = join(REPO_ROOT, "test/fixtures/apps/sandbox-image-app.ts");

let t: TestPlatform;
let dir: string;
const app = new App("sandbox-images-e2e");
const sandboxes: Sandbox[] = [];

/** A sandbox terminated after the file's tests, and the build and upload progress its image made. */
const sandbox = async (options: Omit<Parameters<typeof Sandbox.create>[0], "app" | "onProgress">): Promise<{ sb: Sandbox; lines: string[] }> => {
  const lines: string[] = [];
  const sb = await Sandbox.create({ app, ...options, onProgress: (l) => lines.push(l) });
  sandboxes.push(sb);
  return { sb, lines };
};

/** Stdout, stderr and exit code of a finished process. */
const outcome = async (p: ContainerProcess) => {
  const [stdout, stderr, code] = await Promise.all([p.stdout.readText(), p.stderr.readText(), p.wait()]);
  return { stdout, stderr, code };
};

/** Blocks the publish uploaded, from its report line ("image 3f0a…: 4 paths, 2 blocks (0.0 MiB), 2 uploaded"). */
const uploaded = (lines: ReadonlyArray<string>): number => {
  const report = lines.map((l) => /^image [0-9a-f]{12}: .*, (\d+) uploaded$/.exec(l)).find((m) => m !== null);
  if (!report) throw new Error(`no publish report among:\n${lines.join("\n")}`);
  return Number(report[1]);
};

/** The built image every case below starts from (or builds on: env and workdir steps add no files). */
const srv = Image.base("ferry/node").runCommands("mkdir -p /srv && echo hi > /srv/x");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-sandbox-images-"));
  // This test's own builder cache: its first build runs every step, later ones hit the cache.
  process.env.FERRY_IMAGE_CACHE = join(dir, "cache");
  t = await startTestPlatform({ agents: 1 });
});
afterAll(async () => {
  for (const sb of sandboxes) await sb.terminate().catch(() => undefined);
  await t?.stop();
  delete process.env.FERRY_IMAGE_CACHE;
  await rm(dir, { recursive: true, force: true });
});

describe("Sandbox.create from a built image", () => {
  it("builds and uploads the image, then execs see its files; the working directory stays /workspace when the image sets none", async () => {
    const { sb, lines } = await sandbox({ image: srv });
    expect(lines.filter((l) => /^\[\d+\/\d+\] RUN/.test(l))).toHaveLength(1);
    expect(uploaded(lines)).toBeGreaterThan(0);
    expect(await outcome(await sb.exec(["bash", "-c", "cat /srv/x && pwd && echo kept > /workspace/w && cat /workspace/w"])))
      .toEqual({ stdout: "hi\n/workspace\nkept\n", stderr: "", code: 0 });
    expect((await sb.info()).workdir).toBe("/workspace");
    // The image is read-only; the sandbox's own directories stay writable.
    expect(await (await sb.exec(["bash", "-c", "echo x > /srv/x"])).wait()).not.toBe(0);
    await sb.terminate();
  });

  it("the image's env and workdir apply to execs, under the sandbox's own env; the unchanged image uploads nothing", async () => {
    const image = srv.env({ GREETING: "hello", MODE: "image" }).workdir("/srv");
    const { sb, lines } = await sandbox({ image, env: { MODE: "sandbox" } });
    expect(lines.some((l) => /CACHED RUN/.test(l))).toBe(true);
    expect(lines.filter((l) => /^\[\d+\/\d+\] RUN/.test(l))).toEqual([]);
    expect(uploaded(lines)).toBe(0);
    expect(await outcome(await sb.exec(["bash", "-c", "echo $GREETING $MODE $FERRY_SANDBOX_ID && pwd && cat x"])))
      .toEqual({ stdout: `hello sandbox ${sb.id}\n/srv\nhi\n`, stderr: "", code: 0 });
    expect((await sb.info()).workdir).toBe("/srv");
    // An exec's own env and workdir still win.
    expect((await outcome(await sb.exec(["bash", "-c", "echo $GREETING && pwd"], { env: { GREETING: "hi" }, workdir: "/tmp" }))).stdout).toBe("hi\n/tmp\n");
    await sb.terminate();
  });

  it("a second sandbox of the same image is a build cache hit and uploads no blocks", async () => {
    const { sb, lines } = await sandbox({ image: srv });
    expect(lines.filter((l) => /^\[\d+\/\d+\] RUN/.test(l))).toEqual([]);
    expect(uploaded(lines)).toBe(0);
    expect((await outcome(await sb.exec(["cat", "/srv/x"]))).stdout).toBe("hi\n");
    await sb.terminate();
  });

  it("the agent mounts the image while the sandbox runs, releases it when the sandbox ends, and the next sandbox of that image reuses the mount", async () => {
    const images = t.platform.agents[0]!.images;
    const before = images.inUse;
    const { sb } = await sandbox({ image: srv });
    expect(images.inUse).toBe(before + 1);
    const mounts = images.mounted;
    await sb.terminate();
    await waitFor("the image to be released", () => (images.inUse === before ? true : undefined));
    const { sb: again } = await sandbox({ image: srv });
    expect(images.inUse).toBe(before + 1);
    expect(images.mounted).toBe(mounts);
    await again.terminate();
  });

  it("a sandbox mirroring a function (ferry shell) starts from the function's image, in its app dir", async () => {
    const d = await t.deploy(SANDBOX_IMAGE_APP);
    const fn = d.response.functions.find((f) => f.name === "withImage")!;
    const { sb } = await sandbox({ functionId: fn.id });
    expect(await outcome(await sb.exec(["bash", "-c", "cat /srv/fn/y && echo $FN_IMAGE $FERRY_FUNCTION && pwd"])))
      .toEqual({ stdout: "from-function-image\nyes withImage\n/opt/ferry/app\n", stderr: "", code: 0 });
    await sb.terminate();
  });

  it("snapshots still start sandboxes: a built-image sandbox's /workspace, restored over the default image", async () => {
    const { sb } = await sandbox({ image: srv });
    expect(await (await sb.exec(["bash", "-c", "cp /srv/x /workspace/copied"])).wait()).toBe(0);
    const snap = await sb.snapshotFilesystem();
    await sb.terminate();
    const { sb: restored } = await sandbox({ image: snap });
    expect(await outcome(await restored.exec(["bash", "-c", "cat /workspace/copied; test -e /srv/x || echo no-image"])))
      .toEqual({ stdout: "hi\nno-image\n", stderr: "", code: 0 });
    await restored.terminate();
  });
});

describe("bad input", () => {
  it("a failing build step rejects Sandbox.create with the builder's error: the command, its exit code, the log tail", async () => {
    const image = Image.base("ferry/node").runCommands("echo about to fail && exit 7");
    const err = await Sandbox.create({ app, image }).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toMatchObject({ name: "BuildStepError", exitCode: 7, command: "echo about to fail && exit 7" });
    expect(err?.message).toContain("exited with code 7");
    expect(err?.message).toContain("about to fail");
    expect((await t.client.request<{ sandboxes: unknown[] }>("GET", "/v1/sandboxes")).sandboxes).toEqual([]);
  });

  it("an image id the region does not hold is 404; a snapshot and a built image at once, or image fields without an id, are 400", async () => {
    const missing = "0".repeat(64);
    await expect(t.client.request("POST", "/v1/sandboxes", { app: "sandbox-images-e2e", imageId: missing }))
      .rejects.toMatchObject({ status: 404, message: `image ${missing} not found` });
    await expect(t.client.request("POST", "/v1/sandboxes", { app: "sandbox-images-e2e", image: "sn-abc", imageId: missing }))
      .rejects.toMatchObject({ status: 400, field: "body.imageId" });
    await expect(t.client.request("POST", "/v1/sandboxes", { app: "sandbox-images-e2e", imageEnv: { A: "1" } }))
      .rejects.toMatchObject({ status: 400, field: "body.imageEnv" });
  });
});

/** The Debian case reuses the machine's Debian base (images-debian.test.ts builds it) rather than spend minutes building one. */
const debian = hasMmdebstrap() && hasCachedDebianBase();
if (!debian) console.warn(`sandbox-images.test.ts: the Debian case is skipped: it needs mmdebstrap and a cached Debian base in ${DEBIAN_BASE_CACHE} (run test/e2e/images-debian.test.ts once)`);

describe.skipIf(!debian)("a sandbox from a Debian image (skipped without mmdebstrap and a cached Debian base)", () => {
  it("runs jq installed by aptInstall, with the image as its whole root", { timeout: 300_000 }, async () => {
    // The Debian base is built once per machine; the apt step is built here, in this test's own cache.
    await seedDebianBase(process.env.FERRY_IMAGE_CACHE!);
    const { sb } = await sandbox({ image: Image.debianSlim().aptInstall("jq") });
    expect(await outcome(await sb.exec(["bash", "-c", "jq --version && echo '[1,2]' | jq -c . && test -f /etc/debian_version && pwd && id -un"])))
      .toEqual({ stdout: expect.stringMatching(/^jq-1\.\d+.*\n\[1,2\]\n\/workspace\nferry\n$/), stderr: "", code: 0 });
    await sb.terminate();
  });
});
