import { describe, expect, it } from "vitest";
import { baseEntriesFor, FULL_ROOT_PATH, imageBaseEnv } from "../src/images/container-root.ts";
import { imageRootEntries } from "../src/images/image-root.ts";
import type { RootfsEntry } from "../src/sandbox/bwrap-args.ts";

/** The node's base as defaultNodeImageBinds makes it on a usrmerge host (shortened). */
const NODE_BASE: RootfsEntry[] = [
  { hostPath: "/usr", sandboxPath: "/usr" },
  { symlinkTo: "usr/lib", sandboxPath: "/lib" },
  { hostPath: "/etc/ld.so.cache", sandboxPath: "/etc/ld.so.cache" },
  { hostPath: "/run/resolv.conf", sandboxPath: "/etc/resolv.conf" },
  { hostPath: "/state/image-etc/passwd", sandboxPath: "/etc/passwd" },
  { hostPath: "/state/image-etc/group", sandboxPath: "/etc/group" },
  { hostPath: "/opt/node24/bin", sandboxPath: "/opt/ferry/node" },
];

describe("a custom image's container root (pure)", () => {
  it("an overlay image (ferry/node) keeps the node's whole base", () => {
    expect(baseEntriesFor(NODE_BASE, "overlay")).toEqual(NODE_BASE);
  });

  it("a full-root image keeps only the platform's part: Node runtime, passwd/group, resolv.conf; never the host's /usr or libraries", () => {
    expect(baseEntriesFor(NODE_BASE, "full").map((e) => e.sandboxPath)).toEqual(["/etc/resolv.conf", "/etc/passwd", "/etc/group", "/opt/ferry/node"]);
  });

  it("over a full-root base the image's own /usr, /lib and /etc are bound, its passwd and resolv.conf left to the platform", () => {
    const base = baseEntriesFor(NODE_BASE, "full");
    const image = imageRootEntries([
      { path: "usr", type: "dir", mode: 0o755, size: 0 },
      { path: "lib", type: "symlink", mode: 0o777, size: 7, target: "usr/lib" },
      { path: "etc", type: "dir", mode: 0o755, size: 0 },
      { path: "etc/passwd", type: "file", mode: 0o644, size: 1, digest: "a".repeat(64) },
      { path: "etc/os-release", type: "file", mode: 0o644, size: 1, digest: "b".repeat(64) },
      { path: "opt", type: "dir", mode: 0o755, size: 0 },
    ], "/mnt/ct", [...base.map((e) => e.sandboxPath), "/opt/ferry/runner", "/opt/ferry/app"]);
    expect(image).toEqual([
      { hostPath: "/mnt/ct/etc/os-release", sandboxPath: "/etc/os-release" },
      { symlinkTo: "usr/lib", sandboxPath: "/lib" },
      { hostPath: "/mnt/ct/usr", sandboxPath: "/usr" },
    ]);
  });

  it("a full root's PATH reaches its own binaries; npm directories go to the runner", () => {
    expect(imageBaseEnv("full", ["/app"])).toEqual({ PATH: FULL_ROOT_PATH, FERRY_IMAGE_NPM_DIRS: "/app" });
    expect(FULL_ROOT_PATH.split(":")[0]).toBe("/opt/ferry/node");
    expect(imageBaseEnv("overlay", [])).toEqual({});
  });
});
