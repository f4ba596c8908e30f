import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileBlocks, Limits, loadImageIndex, type ImageFileEntry } from "@ferry/core";
import { LocalDirBlockStore } from "../../image-builder/src/store/local-dir-block-store.ts";
import { snapshotImage, tarMembers } from "../src/sandboxes/snapshot-image.ts";

/** A snapshot's tar (made by GNU tar, as sandboxes make it) becomes an image in the block store. */

let dir: string;
let archive: Uint8Array;
const longName = `${"n".repeat(120)}.txt`;
const big = Buffer.alloc(Limits.imageChunkBytes + 1000, 7);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "snapshot-image-"));
  const root = join(dir, "root");
  await mkdir(join(root, "workspace", "data"), { recursive: true, mode: 0o700 });
  await mkdir(join(root, "tmp"), { recursive: true });
  await writeFile(join(root, "workspace", "data", "notes.txt"), "kept\n", { mode: 0o600 });
  await writeFile(join(root, "workspace", longName), "long\n");
  await writeFile(join(root, "workspace", "big.bin"), big);
  await writeFile(join(root, "workspace", "empty"), "");
  await symlink("data/notes.txt", join(root, "workspace", "link"));
  execFileSync("ln", [join(root, "workspace", "data", "notes.txt"), join(root, "workspace", "hard.txt")]);
  await writeFile(join(root, "tmp", "t.txt"), "scratch\n");
  archive = new Uint8Array(execFileSync("tar", ["-C", root, "-cf", "-", "tmp", "workspace"], { maxBuffer: 64 * 1024 * 1024 }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("snapshotImage", () => {
  it("reads every kind of member GNU tar writes, long names included", () => {
    const members = new Map(tarMembers(archive).map((m) => [m.path, m]));
    expect(members.get("workspace/data/notes.txt")).toMatchObject({ type: "file", mode: 0o600 });
    expect(new TextDecoder().decode(members.get("workspace/data/notes.txt")!.data)).toBe("kept\n");
    expect(members.get(`workspace/${longName}`)?.type).toBe("file");
    expect(members.get("workspace/link")).toMatchObject({ type: "symlink", linkTarget: "data/notes.txt" });
    expect([...members.values()].some((m) => m.type === "hardlink")).toBe(true);
  });

  it("stores the files as blocks and the index as an image whose files read back whole, readable by all", async () => {
    const store = new LocalDirBlockStore(join(dir, "blocks"));
    const imageId = await snapshotImage(archive, store);
    expect(imageId).toMatch(/^[0-9a-f]{64}$/);
    // The same archive is the same image.
    expect(await snapshotImage(archive, store)).toBe(imageId);
    const index = await loadImageIndex(store, imageId);
    const byPath = new Map(index.entries.map((e) => [e.path, e]));
    const read = async (path: string) => {
      const e = byPath.get(path) as ImageFileEntry;
      const parts = await Promise.all(fileBlocks(e).map((b) => store.get(b.digest)));
      return Buffer.concat(parts);
    };
    expect((await read("workspace/data/notes.txt")).toString()).toBe("kept\n");
    expect((await read("workspace/hard.txt")).toString()).toBe("kept\n");
    expect((await read(`workspace/${longName}`)).toString()).toBe("long\n");
    expect((await read("tmp/t.txt")).toString()).toBe("scratch\n");
    expect((await read("workspace/big.bin")).equals(big)).toBe(true);
    expect((byPath.get("workspace/big.bin") as ImageFileEntry).chunks).toHaveLength(2);
    expect(byPath.get("workspace/empty")).toMatchObject({ type: "file", size: 0 });
    expect(byPath.get("workspace/link")).toMatchObject({ type: "symlink", target: "data/notes.txt" });
    expect(byPath.get("workspace/data/notes.txt")?.mode).toBe(0o644);
    expect(byPath.get("workspace")).toMatchObject({ type: "dir", mode: 0o755 });
  });

  it("refuses a corrupt archive", async () => {
    const bad = archive.slice();
    bad[10] ^= 0xff;
    expect(() => tarMembers(bad)).toThrow("header checksum");
    expect(() => tarMembers(archive.slice(0, 1024 + 100))).toThrow();
  });
});
