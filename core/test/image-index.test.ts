import { describe, expect, it } from "vitest";
import { Result } from "effect";
import {
  blocksForRange, chunkSpans, decodeImageIndex, decodeImageIndexBytes, encodeImageIndex, imageBlocks, imageIdOf, imagePathProblem,
  isBlockDigest, type ImageEntry, type ImageIndex,
} from "../src/images/index.ts";
import { sha256Hex } from "../src/bytes/sha256-hex.ts";

const d = (c: string) => c.repeat(64);
const dir = (path: string): ImageEntry => ({ path, type: "dir", mode: 0o755, size: 0 });
const file = (path: string, size: number, digest = d("a")): ImageEntry => ({ path, type: "file", mode: 0o644, size, digest });
const index = (entries: ImageEntry[], chunkBytes = 4): ImageIndex => ({ version: 1, chunkBytes, entries });

const problemOf = (value: unknown): string => {
  const r = decodeImageIndex(value);
  return Result.isFailure(r) ? r.failure.message : "";
};

describe("image index encoding", () => {
  it("encodes equal trees to equal bytes whatever the entry and key order, so they share one id", async () => {
    const a = index([dir("app"), file("app/main.js", 3), { path: "link", type: "symlink", mode: 0o777, size: 11, target: "app/main.js" }]);
    const b = index([{ target: "app/main.js", size: 11, mode: 0o777, type: "symlink", path: "link" } as ImageEntry, file("app/main.js", 3), dir("app")]);
    expect(new TextDecoder().decode(encodeImageIndex(a))).toBe(new TextDecoder().decode(encodeImageIndex(b)));
    expect(await imageIdOf(a)).toBe(await imageIdOf(b));
    expect(await imageIdOf(a)).toBe(await sha256Hex(encodeImageIndex(a)));
    expect(isBlockDigest(await imageIdOf(a))).toBe(true);
  });

  it("gives a different id when a mode, a digest or a path changes", async () => {
    const base = await imageIdOf(index([file("a", 3)]));
    expect(await imageIdOf(index([{ ...file("a", 3), mode: 0o755 } as ImageEntry]))).not.toBe(base);
    expect(await imageIdOf(index([file("a", 3, d("b"))]))).not.toBe(base);
    expect(await imageIdOf(index([file("b", 3)]))).not.toBe(base);
  });

  it("round-trips through its bytes", () => {
    const i = index([dir("lib"), { ...file("lib/big.bin", 10), chunks: [{ digest: d("1"), size: 4 }, { digest: d("2"), size: 4 }, { digest: d("3"), size: 2 }] } as ImageEntry]);
    const r = decodeImageIndexBytes(encodeImageIndex(i));
    expect(Result.isSuccess(r) && r.success).toEqual(i);
  });
});

describe("image index validation", () => {
  it("refuses paths that are absolute, empty, or climb with '..'", () => {
    expect(imagePathProblem("usr/bin/node")).toBeUndefined();
    for (const p of ["/etc/passwd", "", "a/../../b", "a//b", "./a", "a\0b"]) expect(imagePathProblem(p), p).toBeDefined();
    expect(problemOf(index([file("../escape", 1)]))).toMatch(/'\.\.' segment/);
  });

  it("refuses an entry whose parent directory is not listed, and a path listed twice", () => {
    expect(problemOf(index([file("a/b.js", 1)]))).toMatch(/a\/b\.js: its parent directory a is not listed/);
    expect(problemOf(index([file("a", 1), file("a/b", 1)]))).toMatch(/parent directory a is not listed/);
    expect(problemOf(index([file("a", 1), file("a", 2)]))).toMatch(/a: listed twice/);
  });

  it("requires chunks exactly when a file is larger than the chunk size, tiling the file", () => {
    expect(problemOf(index([file("big", 10)]))).toMatch(/big: a file of 10 bytes needs chunks of 4 bytes/);
    expect(problemOf(index([{ ...file("small", 3), chunks: [{ digest: d("1"), size: 3 }] } as ImageEntry]))).toMatch(/has no chunks/);
    const wrong = { ...file("big", 10), chunks: [{ digest: d("1"), size: 4 }, { digest: d("2"), size: 6 }] } as ImageEntry;
    expect(problemOf(index([wrong]))).toMatch(/big: 10 bytes make 3 chunks, not 2/);
    const uneven = { ...file("big", 10), chunks: [{ digest: d("1"), size: 2 }, { digest: d("2"), size: 4 }, { digest: d("3"), size: 4 }] } as ImageEntry;
    expect(problemOf(index([uneven]))).toMatch(/big: chunk 0 must be 4 bytes, not 2/);
  });

  it("names the field at fault for a malformed digest, mode or version", () => {
    const bad = decodeImageIndex({ version: 1, chunkBytes: 4, entries: [{ path: "a", type: "file", mode: 0o644, size: 1, digest: "zz" }] });
    expect(Result.isFailure(bad) && bad.failure.field).toBe("index.entries[0].digest");
    expect(problemOf({ version: 1, chunkBytes: 4, entries: [{ path: "a", type: "dir", mode: 0o17777, size: 0 }] })).toMatch(/index\.entries\[0\]/);
    expect(problemOf({ version: 2, chunkBytes: 4, entries: [] })).toMatch(/index\.version/);
    expect(problemOf(index([{ path: "l", type: "symlink", mode: 0o777, size: 1, target: "abc" }]))).toMatch(/symlink's size/);
    expect(Result.isFailure(decodeImageIndexBytes(new TextEncoder().encode("{not json")))).toBe(true);
  });
});

describe("chunks and blocks", () => {
  it("cuts a file into chunks of the chunk size with a smaller last one", () => {
    expect(chunkSpans(10, 4)).toEqual([{ offset: 0, length: 4 }, { offset: 4, length: 4 }, { offset: 8, length: 2 }]);
    expect(chunkSpans(4, 4)).toEqual([{ offset: 0, length: 4 }]);
    expect(chunkSpans(0, 4)).toEqual([]);
  });

  it("lists each block an image needs once, identical files and chunks included", () => {
    const i = index([
      file("a", 3, d("a")), file("b", 3, d("a")), file("empty", 0, d("e")),
      { ...file("big", 10, d("f")), chunks: [{ digest: d("1"), size: 4 }, { digest: d("1"), size: 4 }, { digest: d("a"), size: 2 }] } as ImageEntry,
    ]);
    expect(imageBlocks(i)).toEqual([{ digest: d("a"), size: 3 }, { digest: d("1"), size: 4 }]);
  });

  it("finds only the blocks a read range touches", () => {
    const big = { ...file("big", 10), chunks: [{ digest: d("1"), size: 4 }, { digest: d("2"), size: 4 }, { digest: d("3"), size: 2 }] } as Extract<ImageEntry, { type: "file" }>;
    expect(blocksForRange(big, 4, 5, 2).map((b) => [b.digest[0], b.fileOffset])).toEqual([["2", 4]]);
    expect(blocksForRange(big, 4, 3, 6).map((b) => b.digest[0])).toEqual(["1", "2", "3"]);
    expect(blocksForRange(big, 4, 10, 5)).toEqual([]);
  });
});
