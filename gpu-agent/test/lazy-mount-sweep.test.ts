import { afterAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMounted, mountLazyImage, sweepStaleLazyMounts, type LazySource } from "../src/images/fuse/index.ts";

/** An agent that died leaves lazy mounts behind; the next agent on that state dir detaches them. */

const canMount = process.getuid?.() === 0 && existsSync("/dev/fuse") && existsSync("/usr/bin/mount") && existsSync("/usr/bin/umount");
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const source: LazySource = {
  index: { entries: [{ path: "hello.txt", kind: "file", mode: 0o644, size: 5 }] },
  read: async (_path, offset, length) => new TextEncoder().encode("hello").subarray(offset, offset + length),
};

describe.skipIf(!canMount)("sweepStaleLazyMounts (needs root and /dev/fuse)", () => {
  it("detaches the lazy mounts under its directory and leaves others alone", async () => {
    const root = await mkdtemp(join(tmpdir(), "ferry-sweep-"));
    dirs.push(root);
    const inside = join(root, "images", "mnt", "ct-1");
    const outside = join(root, "elsewhere");
    await mkdir(inside, { recursive: true });
    await mkdir(outside, { recursive: true });
    const left = await mountLazyImage({ mountpoint: inside, source });
    const kept = await mountLazyImage({ mountpoint: outside, source });
    try {
      expect(await sweepStaleLazyMounts(join(root, "images", "mnt"))).toEqual([inside]);
      expect(await isMounted(inside)).toBe(false);
      expect(await isMounted(outside)).toBe(true);
      expect(await sweepStaleLazyMounts(join(root, "images", "mnt"))).toEqual([]);
    } finally {
      await left.unmount().catch(() => undefined);
      await kept.unmount();
    }
    expect(await isMounted(outside)).toBe(false);
  });
});
