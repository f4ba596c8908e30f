import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Limits } from "@ferry/core";
import { FerryApiError, Volume, type VolumeCommitResult } from "ferry";
import { otherWorkspaceClient } from "../fixtures/other-workspace.ts";
import { REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

const VOLUMES_APP = join(REPO_ROOT, "test/fixtures/apps/volumes-app.ts");

type Remote<A extends unknown[], R> = { remote(...args: A): Promise<R> };
interface Fns {
  writer: Remote<[Record<string, string>, string[]?], VolumeCommitResult>;
  reader: Remote<[string], string>;
  planter: Remote<[string], VolumeCommitResult>;
  inspect: Remote<[], { uid: number }>;
  keeper: Remote<["draft" | "sync"], { reloaded?: { version: number }; seen?: { draft: string; other: string }; committed?: VolumeCommitResult }>;
  bridgeWrite: Remote<[string, number], { version: number; sha256: string; distinct: number }>;
  bridgeRead: Remote<[string], { size: number; sha256: string; listing: unknown[] }>;
  bridgeUpload: Remote<[number], { status: number; type?: string; message?: string }>;
}

let t: TestPlatform;
let fns: Fns;
const vol = Volume.fromName("e2e-vol");

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  const d = await t.deploy(VOLUMES_APP);
  fns = Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as Fns;
});
afterAll(() => t?.stop());

describe("volumes", () => {
  it("a deploy creates a createIfMissing volume; a container's mount is a writable directory", async () => {
    expect(await vol.info()).toMatchObject({ name: "e2e-vol", version: 0, files: 0 });
    expect(await fns.inspect.remote()).toEqual({ uid: 1000 });
    // Writes without a commit publish nothing.
    expect((await vol.info()).version).toBe(0);
  });

  it("a container writes and commits; another function's container reloads and reads it", async () => {
    const r = await fns.writer.remote({ "notes/hello.txt": "hello from the writer" });
    expect(r).toMatchObject({ version: 1, changed: 1, uploadedBlocks: 1, uploadedBytes: 21 });
    expect(await fns.reader.remote("notes/hello.txt")).toBe("hello from the writer");
    // The reader's container is warm now: it sees a later commit only through reload().
    await fns.writer.remote({ "notes/hello.txt": "changed" });
    expect(await fns.reader.remote("notes/hello.txt")).toBe("changed");
    await fns.writer.remote({}, ["notes/hello.txt"]);
    expect(await fns.reader.remote("notes/hello.txt")).toBe("missing: ENOENT");
  });

  it("a second commit uploads only what the store lacks: unchanged files and known contents are not sent again", async () => {
    const first = await fns.writer.remote({ "big.bin": "bytes:1048576" });
    expect(first).toMatchObject({ changed: 1, uploadedBlocks: 1, uploadedBytes: 1_048_576 });
    const second = await fns.writer.remote({ "small.txt": "tiny" });
    expect(second).toMatchObject({ version: first.version + 1, changed: 1, uploadedBlocks: 1, uploadedBytes: 4 });
    // The same content under another name is a new file but no new block.
    const copy = await fns.writer.remote({ "copy-of-small.txt": "tiny" });
    expect(copy).toMatchObject({ changed: 1, uploadedBlocks: 0, uploadedBytes: 0 });
    // Nothing changed: no new version at all.
    const idle = await fns.writer.remote({});
    expect(idle).toMatchObject({ version: copy.version, changed: 0, uploadedBytes: 0 });
    expect(await vol.info()).toMatchObject({ version: copy.version, files: 3, bytes: 1_048_576 + 8 });
  });

  it("reload brings in others' commits and keeps the container's uncommitted changes, which win at its next commit", async () => {
    await fns.keeper.remote("draft");
    const theirs = await fns.writer.remote({ "draft.txt": "their version", "other.txt": "theirs only" });
    const r = await fns.keeper.remote("sync");
    expect(r.reloaded?.version).toBe(theirs.version);
    expect(r.seen).toEqual({ draft: "local draft", other: "theirs only" });
    expect(r.committed).toMatchObject({ version: theirs.version + 1, changed: 1 });
    expect(new TextDecoder().decode(await vol.read("draft.txt"))).toBe("local draft");
    await vol.remove("draft.txt");
    await vol.remove("other.txt");
  });

  it("from outside: write, read, list and remove; containers see outside writes after reload", async () => {
    const written = await vol.write("/from-outside/note.txt", "hi from outside");
    expect(new TextDecoder().decode(await vol.read("from-outside/note.txt"))).toBe("hi from outside");
    const bytes = new Uint8Array([0, 1, 2, 255]);
    await vol.write("from-outside/data.bin", bytes);
    expect(await vol.read("/from-outside/data.bin")).toEqual(bytes);
    expect(await vol.list("/from-outside")).toEqual([
      { path: "from-outside/data.bin", type: "file", size: 4, mode: 0o644 },
      { path: "from-outside/note.txt", type: "file", size: 15, mode: 0o644 },
    ]);
    expect((await vol.list()).map((e) => `${e.type}:${e.path}`)).toEqual(["file:big.bin", "file:copy-of-small.txt", "dir:from-outside", "file:small.txt"]);
    expect(await fns.reader.remote("from-outside/note.txt")).toBe("hi from outside");
    const removed = await vol.remove("from-outside");
    expect(removed.version).toBeGreaterThan(written.version);
    const read = await vol.read("from-outside/note.txt").catch((e: FerryApiError) => e);
    expect((read as FerryApiError).status).toBe(404);
    expect(await fns.reader.remote("from-outside/note.txt")).toBe("missing: ENOENT");
  });

  it("inside a container that does not mount it: vol.write, vol.read and vol.list go through the API bridge, bytes intact", async () => {
    const size = 1024 * 1024 + 3;
    const written = await fns.bridgeWrite.remote("bin/all-bytes.bin", size);
    expect(written).toMatchObject({ version: 1, distinct: 256 });
    // Another function's container reads it back; so does the outside.
    const read = await fns.bridgeRead.remote("bin/all-bytes.bin");
    expect(read).toEqual({ size, sha256: written.sha256, listing: [{ path: "bin/all-bytes.bin", type: "file", size, mode: 0o644 }] });
    const outside = await Volume.fromName("e2e-bridge-vol").read("bin/all-bytes.bin");
    expect(createHash("sha256").update(outside).digest("hex")).toBe(written.sha256);
    // A missing path is the API's not-found error, by name.
    const missing = await fns.bridgeRead.remote("bin/missing.bin").then(() => undefined, (e: Error) => e);
    expect(missing?.name).toBe("FerryApiError");
    expect(missing?.message).toBe("file e2e-bridge-vol:/bin/missing.bin not found");
    // A byte body over the bridge's request limit never leaves the container: a 413 naming it.
    expect(await fns.bridgeUpload.remote(Limits.maxContainerApiRequestBytes + 1)).toEqual({
      status: 413, type: "PayloadTooLargeError",
      message: `request body is ${Limits.maxContainerApiRequestBytes + 1} bytes; the limit (maxContainerApiRequestBytes) is ${Limits.maxContainerApiRequestBytes}`,
    });
  }, 120_000);

  it("refuses paths that escape the volume: '..' anywhere, and symlinks pointing out", async () => {
    await expect(vol.read("../etc/passwd")).rejects.toThrow(/escapes the volume root/);
    const raw = await t.client.request("GET", "/v1/volumes/e2e-vol/list?dir=..%2F..").catch((e: FerryApiError) => e);
    expect([(raw as FerryApiError).status, (raw as FerryApiError).field]).toEqual([400, "query.dir"]);
    const commit = await t.client.request("POST", "/v1/volumes/e2e-vol/commit", { changes: [{ path: "../x", entry: null }] }).catch((e: FerryApiError) => e);
    expect([(commit as FerryApiError).status, (commit as FerryApiError).field]).toEqual([400, "body.changes[0].path"]);
    for (const target of ["/etc/passwd", "../../../../etc/shadow"]) {
      const e = await fns.planter.remote(target).catch((x: Error) => x);
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).message).toBe(`symlink /planted points outside the volume (${target}): make it a relative link inside the volume, or remove it`);
    }
    expect((await vol.list()).map((e) => e.path)).not.toContain("planted");
  });

  it("another workspace's volume is not found", async () => {
    const other = await otherWorkspaceClient(t);
    const { volumes } = await other.request<{ volumes: Array<{ name: string }> }>("GET", "/v1/volumes");
    expect(volumes).toEqual([]);
    for (const [method, path] of [["GET", "/v1/volumes/e2e-vol"], ["GET", "/v1/volumes/e2e-vol/list"], ["GET", "/v1/volumes/e2e-vol/file?path=small.txt"], ["DELETE", "/v1/volumes/e2e-vol"]] as const) {
      const e = await other.raw(method, path).catch((x: FerryApiError) => x);
      expect((e as FerryApiError).status, `${method} ${path}`).toBe(404);
    }
    // Nor can its blocks be probed: a digest this workspace stored is "missing" to the other.
    const { missing } = await other.request<{ missing: string[] }>("POST", "/v1/volumes/e2e-vol/blocks/missing", { digests: ["a".repeat(64)] }).catch((e: FerryApiError) => ({ missing: [String(e.status)] }));
    expect(missing).toEqual(["404"]);
  });

  it("CLI round trip: create, put a directory, ls, get, rm, list, delete", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-vol-cli-"));
    await mkdir(join(dir, "up/sub"), { recursive: true });
    await writeFile(join(dir, "up/a.txt"), "alpha");
    await writeFile(join(dir, "up/sub/b.txt"), "beta");
    expect((await runCli(["volume", "create", "cli-vol"], t.env)).stdout).toBe("created volume cli-vol\n");
    const put = await runCli(["volume", "put", "cli-vol", join(dir, "up"), "/data"], t.env);
    expect(put.code).toBe(0);
    expect(put.stdout).toMatch(/^committed 2 files \(9 B\) to cli-vol as version 1; uploaded 9 B/);
    const ls = await runCli(["volume", "ls", "cli-vol", "/data", "--json"], t.env);
    expect(JSON.parse(ls.stdout)).toEqual([
      { path: "data/a.txt", type: "file", size: 5, mode: expect.any(Number) },
      { path: "data/sub", type: "dir", size: 4 },
    ]);
    const get = await runCli(["volume", "get", "cli-vol", "/data/sub/b.txt", join(dir, "b-copy.txt")], t.env);
    expect(get.code).toBe(0);
    expect(await readFile(join(dir, "b-copy.txt"), "utf8")).toBe("beta");
    expect((await runCli(["volume", "rm", "cli-vol", "/data/sub"], t.env)).stdout).toBe("removed /data/sub from cli-vol (version 2)\n");
    const list = JSON.parse((await runCli(["volume", "list", "--json"], t.env)).stdout) as Array<{ name: string; version: number; files: number }>;
    expect(list.find((v) => v.name === "cli-vol")).toMatchObject({ version: 2, files: 1 });
    expect((await runCli(["volume", "delete", "cli-vol"], t.env)).stdout).toBe("deleted volume cli-vol\n");
    const gone = await runCli(["volume", "ls", "cli-vol"], t.env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("volume cli-vol not found");
    await rm(dir, { recursive: true, force: true });
  }, 180_000);

  it("deploying a function that mounts an unknown volume is a 400 naming it", async () => {
    const dir = await mkdtemp(join(REPO_ROOT, "test/fixtures/apps/.tmp-"));
    const file = join(dir, "missing-volume-app.ts");
    await writeFile(file, `import { App, Volume } from "ferry";\nexport const app = new App("vol-missing");\nexport const f = app.function({ volumes: { "/data": Volume.fromName("no-such-volume") } }, () => 1);\n`);
    try {
      const e = await t.deploy(file).catch((x: FerryApiError) => x);
      expect((e as FerryApiError).status).toBe(400);
      expect((e as FerryApiError).field).toBe("body.functions[0].options.volumes./data");
      expect((e as FerryApiError).message).toContain("volume no-such-volume not found");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
