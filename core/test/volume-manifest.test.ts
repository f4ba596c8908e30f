import { describe, expect, it } from "vitest";
import { Result } from "effect";
import { decodeAt } from "../src/domain/decode.ts";
import { FunctionOptions, resolveFunctionOptions } from "../src/domain/function-options.ts";
import {
  applyVolumeChanges, diffVolumeManifests, listVolumeDirectory, removalsUnder, volumeTotals, type VolumeEntry, type VolumeManifest,
} from "../src/volumes/volume-manifest.ts";
import { mountPathProblem, normalizeVolumePath, symlinkStaysInside } from "../src/volumes/volume-paths.ts";

const file = (digest: string, size = 1, mode = 0o644): VolumeEntry => ({ kind: "file", digest: digest.repeat(64).slice(0, 64), size, mode, blocks: size > 0 ? [digest.repeat(64).slice(0, 64)] : [] });

describe("volume paths", () => {
  it("normalises to a root-relative canonical form", () => {
    expect(normalizeVolumePath("/models//bert/./config.json")).toEqual({ ok: true, path: "models/bert/config.json" });
    expect(normalizeVolumePath("a/b/")).toEqual({ ok: true, path: "a/b" });
    expect(normalizeVolumePath("/")).toEqual({ ok: true, path: "" });
  });

  it("refuses any '..', NUL, and over-long paths", () => {
    for (const p of ["../x", "/../etc/passwd", "a/../../b", "a/.."]) {
      const r = normalizeVolumePath(p);
      expect(r.ok, p).toBe(false);
      expect(!r.ok && r.reason).toMatch(/escapes the volume root/);
    }
    expect(normalizeVolumePath("a\0b").ok).toBe(false);
    expect(normalizeVolumePath("x".repeat(256)).ok).toBe(false);
    expect(normalizeVolumePath(Array.from({ length: 300 }, () => "abcd").join("/")).ok).toBe(false);
  });

  it("keeps symlinks only when relative and resolving inside the volume", () => {
    expect(symlinkStaysInside("models/latest", "v2/model.bin")).toBe(true);
    expect(symlinkStaysInside("models/latest", "../shared/x")).toBe(true);
    expect(symlinkStaysInside("models/latest", "../../etc")).toBe(false);
    expect(symlinkStaysInside("x", "/etc/passwd")).toBe(false);
    expect(symlinkStaysInside("x", "")).toBe(false);
  });

  it("accepts mount paths outside the sandbox's system directories", () => {
    expect(mountPathProblem("/mnt/weights")).toBeUndefined();
    expect(mountPathProblem("/root/.cache")).toBeUndefined();
    expect(mountPathProblem("relative")).toMatch(/absolute/);
    expect(mountPathProblem("/")).toMatch(/at \//);
    expect(mountPathProblem("/mnt/../etc")).toMatch(/'\.\.'/);
    expect(mountPathProblem("/proc/x")).toMatch(/\/proc/);
    expect(mountPathProblem("/opt/ferry/app")).toMatch(/\/opt\/ferry/);
  });

  it("decode refuses a bad mount path or volume name in function options, naming the field", () => {
    const bad = decodeAt(FunctionOptions, { volumes: { "/proc": "w" } }, "options");
    expect(Result.isFailure(bad) && bad.failure.message).toMatch(/options\.volumes.*\/proc/);
    const name = decodeAt(FunctionOptions, { volumes: { "/data": "no spaces" } }, "options");
    expect(Result.isFailure(name) && name.failure.field).toBe("options.volumes./data");
    const secret = decodeAt(FunctionOptions, { secrets: [{ values: { A: "1" } }] }, "options");
    expect(Result.isFailure(secret) && secret.failure.field).toBe("options.secrets[0]");
    expect(resolveFunctionOptions({ volumes: { "/data/": "w" }, secrets: ["a"] })).toMatchObject({ volumes: { "/data": "w" }, secrets: ["a"] });
  });
});

describe("volume manifests", () => {
  const base: VolumeManifest = { "a.txt": file("a"), "d/b.txt": file("b"), "d/e/c.txt": file("c") };

  it("diff lists added, changed and removed paths, sorted, and nothing for equal trees", () => {
    const next: VolumeManifest = { "a.txt": file("a", 1, 0o600), "d/e/c.txt": file("c"), "z.txt": file("z") };
    expect(diffVolumeManifests(base, next)).toEqual([
      { path: "a.txt", entry: file("a", 1, 0o600) },
      { path: "d/b.txt", entry: null },
      { path: "z.txt", entry: file("z") },
    ]);
    expect(diffVolumeManifests(base, { ...base })).toEqual([]);
    expect(diffVolumeManifests(base, { ...base, link: { kind: "symlink", target: "a.txt" } })).toHaveLength(1);
  });

  it("apply keeps others' changes and lets the last writer win per file", () => {
    const theirs = applyVolumeChanges(base, [{ path: "d/b.txt", entry: file("B") }]);
    const mine = applyVolumeChanges(theirs, [{ path: "a.txt", entry: file("A") }, { path: "new.txt", entry: file("n") }]);
    expect(mine["d/b.txt"]).toEqual(file("B"));
    expect(mine["a.txt"]).toEqual(file("A"));
    expect(Object.keys(mine)).toEqual(["a.txt", "d/b.txt", "d/e/c.txt", "new.txt"]);
  });

  it("apply keeps the tree consistent when a file replaces a directory or sits under a file", () => {
    const fileOverDir = applyVolumeChanges(base, [{ path: "d", entry: file("d") }]);
    expect(Object.keys(fileOverDir)).toEqual(["a.txt", "d"]);
    const underFile = applyVolumeChanges(base, [{ path: "a.txt/inner", entry: file("i") }]);
    expect(Object.keys(underFile)).toEqual(["a.txt/inner", "d/b.txt", "d/e/c.txt"]);
  });

  it("lists a directory's children with directory sizes, and nothing for a file or a missing path", () => {
    expect(listVolumeDirectory(base, "")).toEqual([
      { path: "a.txt", type: "file", size: 1, mode: 0o644 },
      { path: "d", type: "dir", size: 2 },
    ]);
    expect(listVolumeDirectory(base, "d")?.map((e) => e.path)).toEqual(["d/b.txt", "d/e"]);
    expect(listVolumeDirectory(base, "a.txt")).toBeUndefined();
    expect(listVolumeDirectory(base, "nope")).toBeUndefined();
    expect(listVolumeDirectory({}, "")).toEqual([]);
  });

  it("removes a file or a whole directory, and totals files and bytes", () => {
    expect(removalsUnder(base, "d").map((c) => c.path)).toEqual(["d/b.txt", "d/e/c.txt"]);
    expect(removalsUnder(base, "a.txt")).toEqual([{ path: "a.txt", entry: null }]);
    expect(removalsUnder(base, "d/b")).toEqual([]);
    expect(volumeTotals(base)).toEqual({ files: 3, bytes: 3 });
  });
});
