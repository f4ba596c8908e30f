import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { App, Image } from "ferry";
import { discoverApp } from "../../sdk/src/bundling/discover-app.ts";
import { imageRootEntries, imageWorkdir } from "../../gpu-agent/src/images/image-root.ts";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

const IMAGE_APP = join(REPO_ROOT, "test/fixtures/apps/image-app.ts");
/** Larger than one 4 MiB chunk, never read by the functions: its blocks must never be fetched. */
const BIG_BYTES = 12 * 1024 * 1024;

type Handles = {
  readImage: { remote(): Promise<{ small: string; marker: string; note: string; bigSize: number; mode: string; cwd: string }> };
  readPath: { remote(path: string): Promise<string> };
  plain: { remote(x: number): Promise<{ square: number; assets: boolean; cwd: string }> };
};
const handlesOf = (d: Awaited<ReturnType<TestPlatform["deploy"]>>): Handles =>
  Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as Handles;

describe("functions with a custom image", () => {
  let t: TestPlatform;
  let dir: string;
  let fns: Handles;
  let first: Awaited<ReturnType<TestPlatform["deploy"]>>;
  const env = { ...process.env };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-image-e2e-"));
    await Promise.all(["assets", "mounted", "cache"].map((d) => import("node:fs/promises").then((fs) => fs.mkdir(join(dir, d)))));
    await writeFile(join(dir, "assets", "small.txt"), "hello assets");
    await writeFile(join(dir, "assets", "big.bin"), randomBytes(BIG_BYTES));
    await writeFile(join(dir, "assets", "victim.txt"), `victim ${randomBytes(16).toString("hex")}`);
    await writeFile(join(dir, "mounted", "note.txt"), "v1");
    process.env.FERRY_TEST_IMAGE_ASSETS = join(dir, "assets");
    process.env.FERRY_TEST_IMAGE_MOUNTED = join(dir, "mounted");
    process.env.FERRY_IMAGE_CACHE = join(dir, "cache");
    t = await startTestPlatform({ agents: 1 });
    first = await t.deploy(IMAGE_APP);
    fns = handlesOf(first);
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
    for (const k of ["FERRY_TEST_IMAGE_ASSETS", "FERRY_TEST_IMAGE_MOUNTED", "FERRY_IMAGE_CACHE"]) {
      if (env[k] === undefined) delete process.env[k];
      else process.env[k] = env[k];
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("runs from its image: baked files, build output, start-time files, env and workdir", async () => {
    expect(await fns.readImage.remote()).toEqual({
      small: "hello assets", marker: "built\n", note: "v1", bigSize: BIG_BYTES, mode: "test", cwd: "/app",
    });
  });

  it("loads lazily: only the blocks of files the container read were fetched, never the large unread file", async () => {
    await fns.readImage.remote();
    const stats = await t.platform.agents[0].imageStats();
    expect(stats).toBeDefined();
    expect(stats!.fetchedBytes).toBeGreaterThan(0);
    expect(stats!.fetchedBytes).toBeLessThan(64 * 1024);
    expect(stats!.usedBytes).toBeLessThan(64 * 1024);
  });

  it("a function without an image runs on the default image, as before", async () => {
    expect(await fns.plain.remote(7)).toEqual({ square: 49, assets: false, cwd: "/opt/ferry/app" });
  });

  it("the first deploy uploaded the image's blocks once; deploying it unchanged uploads none and rebuilds nothing", async () => {
    expect(first.images).toHaveLength(1);
    expect(first.images[0].uploadedBlocks).toBe(first.images[0].blocks);
    expect(first.images[0].functions).toEqual(["readImage", "readPath"]);
    const lines: string[] = [];
    const again = await (await import("../../sdk/src/cli/deploy-file.ts")).deployFile(t.client, IMAGE_APP, { mode: "ephemeral", onProgress: (l) => lines.push(l) });
    try {
      expect(again.images[0].imageId).toBe(first.images[0].imageId);
      expect(again.images[0].uploadedBlocks).toBe(0);
      expect(lines.some((l) => /CACHED RUN/.test(l))).toBe(true);
      expect(lines.filter((l) => /^\[\d+\/\d+\] RUN/.test(l))).toEqual([]);
    } finally {
      await again.dispose();
    }
  });

  it("editing a start-time local file rebuilds no layer and uploads only its new block", async () => {
    await writeFile(join(dir, "mounted", "note.txt"), "v2");
    const lines: string[] = [];
    const { deployFile } = await import("../../sdk/src/cli/deploy-file.ts");
    const edited = await deployFile(t.client, IMAGE_APP, { mode: "ephemeral", onProgress: (l) => lines.push(l) });
    try {
      expect(edited.images[0].imageId).not.toBe(first.images[0].imageId);
      expect(edited.images[0].uploadedBlocks).toBe(1);
      expect(lines.filter((l) => /^\[\d+\/\d+\] RUN/.test(l))).toEqual([]);
      expect((await handlesOf(edited).readImage.remote()).note).toBe("v2");
    } finally {
      await edited.dispose();
      await writeFile(join(dir, "mounted", "note.txt"), "v1");
    }
  });

  it("a block corrupted in the region's store is refused: the read fails, the wrong bytes are never served", async () => {
    const blocks = join(t.platform.stateDir, "region", "blocks", "sha256");
    const { createHash } = await import("node:crypto");
    const { readFile } = await import("node:fs/promises");
    const content = await readFile(join(dir, "assets", "victim.txt"));
    const digest = createHash("sha256").update(content).digest("hex");
    const path = join(blocks, digest.slice(0, 2), digest);
    expect(await readdir(join(blocks, digest.slice(0, 2)))).toContain(digest);
    await chmod(path, 0o644);
    await writeFile(path, "tampered");
    expect(await fns.readPath.remote("/assets/victim.txt")).toBe("error: EIO");
    expect(await fns.readPath.remote("/assets/small.txt")).toBe("hello assets");
  });

  it("a symlink in addLocalDir pointing outside the directory is refused at deploy", async () => {
    const bad = await mkdtemp(join(dir, "bad-"));
    await symlink("/etc/hostname", join(bad, "escape"));
    process.env.FERRY_TEST_IMAGE_ASSETS = bad;
    try {
      await expect(t.deploy(IMAGE_APP)).rejects.toThrow(/escape|outside/);
    } finally {
      process.env.FERRY_TEST_IMAGE_ASSETS = join(dir, "assets");
    }
  });

  it("the upload routes refuse bad input: a malformed digest, bytes that do not hash to it, an index naming absent blocks", async () => {
    const put = (path: string, body: Uint8Array) => fetch(`${t.platform.url}${path}`, { method: "PUT", headers: { authorization: `Bearer ${t.platform.token}` }, body: body as Uint8Array<ArrayBuffer> });
    const bytes = new TextEncoder().encode("a block");
    const { createHash } = await import("node:crypto");
    const digest = createHash("sha256").update(bytes).digest("hex");
    expect((await put("/v1/images/blocks/not-a-digest", bytes)).status).toBe(400);
    const wrong = await put(`/v1/images/blocks/${"0".repeat(64)}`, bytes);
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain(digest);
    expect((await put(`/v1/images/blocks/${digest}`, bytes)).status).toBe(200);
    expect(await t.client.request("POST", "/v1/images/blocks/missing", { digests: [digest, "1".repeat(64)] })).toEqual({ missing: ["1".repeat(64)] });
    await expect(t.client.request("POST", "/v1/images/blocks/missing", { digests: ["nope"] })).rejects.toMatchObject({ status: 400, field: expect.stringContaining("digests") });
    const index = new TextEncoder().encode(JSON.stringify({ version: 1, chunkBytes: 4194304, entries: [{ path: "x", type: "file", mode: 420, size: 9, digest: "1".repeat(64) }] }));
    const indexId = createHash("sha256").update(index).digest("hex");
    const orphan = await put(`/v1/images/${indexId}`, index);
    expect(orphan.status).toBe(400);
    expect(await orphan.text()).toContain("lacks");
  });

  it("an app's image is the default of its functions without one", () => {
    const image = Image.base("ferry/node").env({ A: "1" });
    const app = new App("app-image", { image });
    const f = app.function({}, async () => 1);
    const g = app.function({ image: Image.base("ferry/node") }, async () => 2);
    const { functions } = discoverApp({ app, f, g }, "inline.ts");
    expect(functions.find((x) => x.name === "f")?.options.image).toEqual(image.toSpec());
    expect(functions.find((x) => x.name === "g")?.options.image).toEqual(Image.base("ferry/node").toSpec());
  });
});

describe("where an image appears in a sandbox (pure)", () => {
  const dir = (path: string) => ({ path, type: "dir" as const, mode: 0o755, size: 0 });
  const file = (path: string) => ({ path, type: "file" as const, mode: 0o644, size: 1, digest: "a".repeat(64) });

  it("binds each top-level path from the mount, and a symlink as a symlink", () => {
    expect(imageRootEntries([dir("app"), file("app/x"), file("top.txt"), { path: "link", type: "symlink", mode: 0o777, size: 3, target: "app" }], "/m", ["/usr"])).toEqual([
      { hostPath: "/m/app", sandboxPath: "/app" },
      { symlinkTo: "app", sandboxPath: "/link" },
      { hostPath: "/m/top.txt", sandboxPath: "/top.txt" },
    ]);
  });

  it("never binds over or under a path the platform owns; around one it binds the other children one by one", () => {
    const entries = [dir("opt"), dir("opt/ferry"), dir("opt/ferry/app"), dir("opt/tool"), dir("etc"), file("etc/passwd"), file("etc/app.conf"), dir("tmp"), file("tmp/x"), dir("usr"), file("usr/y")];
    expect(imageRootEntries(entries, "/m", ["/usr", "/etc/passwd", "/opt/ferry/app", "/opt/ferry/node"])).toEqual([
      { hostPath: "/m/etc/app.conf", sandboxPath: "/etc/app.conf" },
      { hostPath: "/m/opt/tool", sandboxPath: "/opt/tool" },
    ]);
  });

  it("starts in the image's workdir only when the image has that directory", () => {
    expect(imageWorkdir([dir("app")], "/app", "/fallback")).toBe("/app");
    expect(imageWorkdir([dir("app")], "/srv", "/fallback")).toBe("/fallback");
    expect(imageWorkdir([], "/", "/fallback")).toBe("/fallback");
  });
});

describe("an agent's lazily mounted images", () => {
  it("records the blocks of exactly the files its first container read, for prefetch on later cold starts", async () => {
    const { Hono } = await import("hono");
    const { listenHttp } = await import("@ferry/core/node");
    const { LocalDirBlockStore, indexDirectory } = await import("@ferry/image-builder");
    const { storeImageIndex } = await import("@ferry/core");
    const { blockRoutes } = await import("../../regions/src/images/block-routes.ts");
    const { ContainerImages } = await import("../../gpu-agent/src/images/container-images.ts");
    const { readFile: readAsync, mkdir } = await import("node:fs/promises");
    const root = await mkdtemp(join(tmpdir(), "ferry-lazy-agent-"));
    const tree = join(root, "tree");
    await mkdir(join(tree, "lib"), { recursive: true });
    await writeFile(join(tree, "lib", "used.js"), "export const used = 1;\n");
    await writeFile(join(tree, "lib", "unused.bin"), randomBytes(5 * 1024 * 1024));
    const store = new LocalDirBlockStore(join(root, "region"));
    const { index } = await indexDirectory(tree, store);
    const imageId = await storeImageIndex(store, index);
    const token = "test-token";
    const app = new Hono();
    app.use("/internal/*", async (c, next) => (c.req.header("x-ferry-internal-token") === token ? next() : c.text("no", 401)));
    app.route("/internal", blockRoutes({ store }));
    const http = await listenHttp(app.fetch, "127.0.0.1", 0);
    const images = new ContainerImages({ stateDir: join(root, "agent"), internalToken: token });
    try {
      const mounted = await images.mount({ containerId: "ct-1", imageId, regionUrl: http.url, workdir: "/lib", fallbackCwd: "/opt/ferry/app", reserved: ["/usr"] });
      expect(mounted.cwd).toBe("/lib");
      // One mount per image, shared by its containers, under the agent's mount directory.
      expect(mounted.rootfs).toHaveLength(1);
      const lib = (mounted.rootfs[0] as { hostPath: string; sandboxPath: string });
      expect(lib.sandboxPath).toBe("/lib");
      expect(lib.hostPath.startsWith(join(root, "agent", "images", "mnt", imageId.slice(0, 16)))).toBe(true);
      // Async reads only: the mount is served on this event loop.
      expect(await readAsync(join(lib.hostPath, "used.js"), "utf8")).toBe("export const used = 1;\n");
      expect(images.recordedBlocks(imageId)).toEqual([]);
      await mounted.release();
      const used = index.entries.find((e) => e.path === "lib/used.js");
      expect(images.recordedBlocks(imageId)).toEqual([used?.type === "file" ? used.digest : "?"]);
      const stats = await images.stats();
      expect(stats?.fetchedBytes).toBe("export const used = 1;\n".length);
    } finally {
      await images.close();
      await http.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
