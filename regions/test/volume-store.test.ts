import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { Effect, Result } from "effect";
import { Limits, migrate, type VolumeChange, type VolumeFileEntry } from "@ferry/core";
import { openLibsql } from "@ferry/core/node";
import { checkCommitChanges } from "../src/volumes/check-commit.ts";
import { VOLUME_VERSIONS_KEPT, VolumeStore, type VolumeInfo } from "../src/volumes/volume-store.ts";

/** The volume store over a real libSQL file: blocks stored once, versions, limits, isolation. */

let dir: string;
let client: Client;
let store: VolumeStore;

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);
const fail = async <A, E>(e: Effect.Effect<A, E>): Promise<E> => {
  const r = await Effect.runPromise(Effect.result(e));
  if (Result.isSuccess(r)) throw new Error("expected a failure");
  return r.failure;
};
const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
/** A one-block file of `text`, its block stored in `ws`. */
const stored = async (ws: string, text: string, mode = 0o644): Promise<VolumeFileEntry> => {
  const bytes = new TextEncoder().encode(text);
  await run(store.putBlock(ws, sha(bytes), bytes));
  return { kind: "file", digest: sha(bytes), size: bytes.byteLength, mode, blocks: [sha(bytes)] };
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-volumes-"));
  client = await openLibsql(`file:${join(dir, "state.db")}`);
  await run(migrate(client));
  for (const ws of ["ws-a", "ws-b"]) await client.execute({ sql: "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, 0)", args: [ws, ws] });
  store = new VolumeStore(client);
});
afterAll(async () => {
  client?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("VolumeStore", () => {
  let vol: VolumeInfo;

  it("creates a volume at version 0; a second create conflicts unless ifMissing", async () => {
    const r = await run(store.create("ws-a", "weights", { ifMissing: false }));
    vol = r.volume;
    expect(r.created).toBe(true);
    expect(vol).toMatchObject({ name: "weights", version: 0, files: 0, bytes: 0 });
    expect((await fail(store.create("ws-a", "weights", { ifMissing: false })))._tag).toBe("ConflictError");
    expect(await run(store.create("ws-a", "weights", { ifMissing: true }))).toMatchObject({ created: false, volume: { id: vol.id } });
    expect(await run(store.manifest(vol))).toEqual({ version: 0, manifest: {} });
  });

  it("stores a block once, only under its own digest", async () => {
    const bytes = new TextEncoder().encode("hello");
    expect(await run(store.missingBlocks("ws-a", [sha(bytes)]))).toEqual([sha(bytes)]);
    await run(store.putBlock("ws-a", sha(bytes), bytes));
    await run(store.putBlock("ws-a", sha(bytes), bytes));
    expect(await run(store.missingBlocks("ws-a", [sha(bytes), sha(bytes)]))).toEqual([]);
    const wrong = await fail(store.putBlock("ws-a", sha("other"), bytes));
    expect(wrong.message).toMatch(/sha256 is/);
    const big = new Uint8Array(Limits.volumeBlockBytes + 1);
    expect((await fail(store.putBlock("ws-a", sha(big), big)))._tag).toBe("PayloadTooLargeError");
  });

  it("keeps blocks per workspace: another workspace neither reads nor learns of them", async () => {
    const digest = sha("hello");
    expect(await run(store.missingBlocks("ws-b", [digest]))).toEqual([digest]);
    expect((await fail(store.getBlock("ws-b", digest)))._tag).toBe("NotFoundError");
    expect(new TextDecoder().decode(await run(store.getBlock("ws-a", digest)))).toBe("hello");
  });

  it("publishes commits as versions, applied on top of the latest (last writer wins per file)", async () => {
    const a = await stored("ws-a", "a1");
    const r1 = await run(store.commit(vol, [{ path: "dir/a.txt", entry: a }, { path: "link", entry: { kind: "symlink", target: "dir/a.txt" } }]));
    expect(r1).toEqual({ version: 1, changed: 2, files: 2, bytes: 2 });
    const b = await stored("ws-a", "b");
    const a2 = await stored("ws-a", "a2-longer");
    await run(store.commit(vol, [{ path: "b.txt", entry: b }]));
    const r3 = await run(store.commit(vol, [{ path: "dir/a.txt", entry: a2 }]));
    expect(r3.version).toBe(3);
    const { manifest } = await run(store.manifest(vol));
    expect(Object.keys(manifest)).toEqual(["b.txt", "dir/a.txt", "link"]);
    expect(manifest["dir/a.txt"]).toEqual(a2);
    expect(await run(store.byName("ws-a", "weights"))).toMatchObject({ version: 3, files: 3, bytes: 10 });
  });

  it("runs concurrent commits one after the other, each as its own version", async () => {
    const entries = await Promise.all(Array.from({ length: 6 }, (_, i) => stored("ws-a", `c${i}`)));
    const results = await Promise.all(entries.map((e, i) => run(store.commit(vol, [{ path: `concurrent/${i}`, entry: e }]))));
    expect(results.map((r) => r.version).sort((x, y) => x - y)).toEqual([4, 5, 6, 7, 8, 9]);
    const { manifest } = await run(store.manifest(vol));
    expect(Object.keys(manifest).filter((p) => p.startsWith("concurrent/"))).toHaveLength(6);
  });

  it("keeps the last versions only", async () => {
    const e = await stored("ws-a", "again");
    for (let i = 0; i < 3; i++) await run(store.commit(vol, [{ path: `again-${i}`, entry: e }]));
    const rs = await client.execute({ sql: "SELECT version FROM volume_versions WHERE volume_id = ? ORDER BY version", args: [vol.id] });
    expect(rs.rows.map((r) => Number(r.version))).toEqual(Array.from({ length: VOLUME_VERSIONS_KEPT }, (_, i) => 12 - VOLUME_VERSIONS_KEPT + 1 + i));
  });

  it("refuses a commit naming a block that is not stored, or sizes its blocks do not add up to", async () => {
    const ghost: VolumeFileEntry = { kind: "file", digest: sha("ghost"), size: 5, mode: 0o644, blocks: [sha("ghost")] };
    const missing = await fail(store.commit(vol, [{ path: "ghost", entry: ghost }]));
    expect(missing._tag).toBe("ConflictError");
    expect(missing.message).toMatch(/upload it before committing/);
    const real = await stored("ws-a", "12345");
    const lying = await fail(store.commit(vol, [{ path: "liar", entry: { ...real, size: 4 } }]));
    expect(lying._tag).toBe("ValidationError");
    // Another workspace's block is as good as missing.
    const other = await run(store.create("ws-b", "theirs", { ifMissing: false }));
    expect((await fail(store.commit(other.volume, [{ path: "x", entry: real }])))._tag).toBe("ConflictError");
  });

  it("enforces the file-count and size limits of a volume", async () => {
    const e = await stored("ws-a", "x");
    const tooMany: VolumeChange[] = Array.from({ length: Limits.maxVolumeFiles + 1 }, (_, i) => ({ path: `many/${i}`, entry: e }));
    const files = await fail(store.commit(vol, tooMany));
    expect(files.message).toContain("maxVolumeFiles");
    const block = new Uint8Array(Limits.volumeBlockBytes);
    await run(store.putBlock("ws-a", sha(block), block));
    const full: VolumeFileEntry = { kind: "file", digest: sha(block), size: block.byteLength, mode: 0o644, blocks: [sha(block)] };
    const count = Math.floor(Limits.maxVolumeBytes / Limits.volumeBlockBytes) + 1;
    const bytes = await fail(store.commit(vol, Array.from({ length: count }, (_, i) => ({ path: `big/${i}`, entry: full }))));
    expect(bytes._tag).toBe("PayloadTooLargeError");
    expect(bytes.message).toContain("maxVolumeBytes");
    expect((await run(store.byName("ws-a", "weights"))).version).toBe(12);
  }, 60_000);

  it("deletes a volume and then the blocks nothing references any more", async () => {
    const kept = await run(store.create("ws-a", "kept", { ifMissing: false }));
    const shared = await stored("ws-a", "shared");
    await run(store.commit(kept.volume, [{ path: "s", entry: shared }]));
    await run(store.commit(vol, [{ path: "s", entry: shared }]));
    await client.execute("UPDATE volume_blocks SET created_at = 0");
    await run(store.remove("ws-a", "weights"));
    expect((await fail(store.byName("ws-a", "weights")))._tag).toBe("NotFoundError");
    expect(await run(store.missingBlocks("ws-a", [shared.digest, sha("hello")]))).toEqual([sha("hello")]);
  });
});

describe("checkCommitChanges", () => {
  const f: VolumeFileEntry = { kind: "file", digest: sha("x"), size: 1, mode: 0o644, blocks: [sha("x")] };

  it("refuses escapes, the root, non-canonical and repeated paths, naming the field", () => {
    expect(checkCommitChanges([{ path: "../x", entry: f }])).toMatchObject({ field: "body.changes[0].path" });
    expect(checkCommitChanges([{ path: "a/../../x", entry: null }])?.message).toMatch(/escapes the volume root/);
    expect(checkCommitChanges([{ path: "", entry: f }])?.message).toMatch(/root/);
    expect(checkCommitChanges([{ path: "/abs", entry: f }])?.message).toMatch(/canonical path "abs"/);
    expect(checkCommitChanges([{ path: "a", entry: f }, { path: "a", entry: null }])?.field).toBe("body.changes[1].path");
  });

  it("refuses links out of the volume and files over the size limit or with the wrong block count", () => {
    expect(checkCommitChanges([{ path: "l", entry: { kind: "symlink", target: "/etc/passwd" } }])?.field).toBe("body.changes[0].entry.target");
    expect(checkCommitChanges([{ path: "d/l", entry: { kind: "symlink", target: "../../x" } }])?.message).toMatch(/points outside/);
    expect(checkCommitChanges([{ path: "big", entry: { ...f, size: Limits.maxVolumeFileBytes + 1 } }])?.message).toContain("maxVolumeFileBytes");
    expect(checkCommitChanges([{ path: "f", entry: { ...f, size: Limits.volumeBlockBytes + 1 } }])?.field).toBe("body.changes[0].entry.blocks");
    expect(checkCommitChanges([{ path: "ok", entry: f }, { path: "d/l", entry: { kind: "symlink", target: "../ok" } }])).toBeUndefined();
  });
});
