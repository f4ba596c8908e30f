import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readFile, readlink, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diffVolumeManifests, Limits } from "@ferry/core";
import { openInside, readBlockInside, scanVolumeDirectory, StatCache, VolumeCommitError } from "../src/volumes/scan-directory.ts";
import { applyReloadPlan } from "../src/volumes/volume-transport.ts";

/** Scanning a container's volume directory as the agent does: on real files, links and FIFOs. */

let dir: string;
let root: string;
let outside: string;
const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "ferry-scan-")));
  root = join(dir, "volume");
  outside = join(dir, "outside");
  await mkdir(join(root, "models/bert"), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, "secret.txt"), "host secret");
  await writeFile(join(root, "a.txt"), "hello");
  await writeFile(join(root, "models/bert/config.json"), "{}", { mode: 0o600 });
  await writeFile(join(root, "empty"), "");
  await symlink("bert/config.json", join(root, "models/latest"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("scanVolumeDirectory", () => {
  it("turns the directory into a manifest: digests, sizes, modes, blocks and in-volume links", async () => {
    const { manifest, skipped } = await scanVolumeDirectory(root, new StatCache());
    expect(Object.keys(manifest).sort()).toEqual(["a.txt", "empty", "models/bert/config.json", "models/latest"]);
    expect(manifest["a.txt"]).toEqual({ kind: "file", digest: sha("hello"), size: 5, mode: 0o644, blocks: [sha("hello")] });
    expect(manifest["models/bert/config.json"]).toMatchObject({ mode: 0o600, size: 2 });
    expect(manifest.empty).toEqual({ kind: "file", digest: sha(""), size: 0, mode: 0o644, blocks: [] });
    expect(manifest["models/latest"]).toEqual({ kind: "symlink", target: "bert/config.json" });
    expect(skipped).toEqual([]);
  });

  it("cuts large files into blocks of volumeBlockBytes", async () => {
    const big = new Uint8Array(Limits.volumeBlockBytes + 10).fill(7);
    await writeFile(join(root, "big.bin"), big);
    const { manifest } = await scanVolumeDirectory(root, new StatCache());
    const e = manifest["big.bin"];
    expect(e).toMatchObject({ kind: "file", size: big.byteLength, digest: sha(big) });
    expect(e?.kind === "file" && e.blocks).toEqual([sha(big.subarray(0, Limits.volumeBlockBytes)), sha(big.subarray(Limits.volumeBlockBytes))]);
    expect(await readBlockInside(root, join(root, "big.bin"), 1, sha(big.subarray(Limits.volumeBlockBytes)))).toHaveLength(10);
    await rm(join(root, "big.bin"));
  });

  it("takes files whose stat is unchanged from the cache instead of rehashing them", async () => {
    const cache = new StatCache();
    await scanVolumeDirectory(root, cache);
    cache.set("a.txt", await lstat(join(root, "a.txt"), { bigint: true }), { digest: "f".repeat(64), blocks: ["f".repeat(64)], size: 5 });
    expect((await scanVolumeDirectory(root, cache)).manifest["a.txt"]).toMatchObject({ digest: "f".repeat(64) });
    // A write changes the stat (ctime cannot be set back), so the file is hashed again.
    await writeFile(join(root, "a.txt"), "hello");
    expect((await scanVolumeDirectory(root, cache)).manifest["a.txt"]).toMatchObject({ digest: sha("hello") });
  });

  it("refuses a symlink pointing out of the volume, naming it", async () => {
    for (const target of ["/etc/passwd", "../../outside/secret.txt"]) {
      await symlink(target, join(root, "models/escape"));
      const e = await scanVolumeDirectory(root, new StatCache()).catch((x: Error) => x);
      expect(e).toBeInstanceOf(VolumeCommitError);
      expect((e as Error).message).toContain("symlink /models/escape points outside the volume");
      await rm(join(root, "models/escape"));
    }
  });

  it("never reads through a parent directory swapped for a link out of the volume", async () => {
    await symlink(outside, join(root, "swapped"));
    await expect(openInside(root, join(root, "swapped/secret.txt"))).rejects.toThrow(/resolves outside the volume/);
    await expect(openInside(root, join(root, "swapped"))).rejects.toThrow();
    await rm(join(root, "swapped"));
  });

  it("skips FIFOs and sockets rather than blocking on them", async () => {
    execFileSync("mkfifo", [join(root, "pipe")]);
    const { manifest, skipped } = await scanVolumeDirectory(root, new StatCache());
    expect(skipped).toEqual(["pipe"]);
    expect(manifest.pipe).toBeUndefined();
    await expect(openInside(root, join(root, "pipe"))).rejects.toThrow(/not a regular file/);
    await rm(join(root, "pipe"));
  });

  it("diffs a rescan against the last sync: only what changed", async () => {
    const before = (await scanVolumeDirectory(root, new StatCache())).manifest;
    await writeFile(join(root, "new.txt"), "new");
    await rm(join(root, "empty"));
    const after = (await scanVolumeDirectory(root, new StatCache())).manifest;
    expect(diffVolumeManifests(before, after).map((c) => [c.path, c.entry === null])).toEqual([["empty", true], ["new.txt", false]]);
  });
});

describe("applyReloadPlan (the runner's side of a reload)", () => {
  it("writes, links and deletes under the mount, removing directories it empties", async () => {
    const mount = join(dir, "mount");
    const staging = join(dir, "staging");
    await mkdir(join(mount, "old/deep"), { recursive: true });
    await mkdir(staging, { recursive: true });
    await writeFile(join(mount, "old/deep/gone.txt"), "x");
    await writeFile(join(staging, "c1"), "fresh");
    const failed = await applyReloadPlan({
      mount, version: 3, ops: [
        { op: "delete", path: "old/deep/gone.txt" },
        { op: "write", path: "new/dir/file.txt", source: join(staging, "c1"), mode: 0o600 },
        { op: "symlink", path: "new/link", target: "dir/file.txt" },
        { op: "write", path: "bad.txt", source: join(staging, "missing"), mode: 0o644 },
      ],
    });
    expect(failed).toEqual(["bad.txt"]);
    expect(await readFile(join(mount, "new/dir/file.txt"), "utf8")).toBe("fresh");
    expect((await lstat(join(mount, "new/dir/file.txt"))).mode & 0o777).toBe(0o600);
    expect(await readlink(join(mount, "new/link"))).toBe("dir/file.txt");
    await expect(lstat(join(mount, "old"))).rejects.toThrow(/ENOENT/);
  });
});
