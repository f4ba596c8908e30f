import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, readFileSync, existsSync, writeFileSync, symlinkSync, statSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ImageSpec, ImageStep } from "@ferry/core";
import { buildImage, BuildStepError, BuildTimeoutError, flattenImage, LocalInputError, type BuiltImage } from "../src/index.ts";

const made: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "ferry-builder-test-"));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
const node = (steps: ImageStep[]): ImageSpec => ({ base: { kind: "ferry/node" }, steps });

/** Build and collect the log. */
const build = async (spec: ImageSpec, cacheDir: string, opts: { force?: boolean; timeoutS?: number; appModule?: string } = {}) => {
  const log: string[] = [];
  const image = await buildImage(spec, { cacheDir, onLog: (l) => log.push(l), ...opts });
  return { image, log };
};
const rootOf = (image: BuiltImage) => {
  const dir = join(scratch(), "root");
  flattenImage(image, dir);
  return dir;
};
const ran = (log: string[]) => log.filter((l) => /^\[\d+\/\d+\] (RUN|COPY|NPM|APT|FUNCTION)/.test(l)).map((l) => l.slice(0, 5));
const cached = (log: string[]) => log.filter((l) => l.includes(" CACHED ")).map((l) => l.slice(0, 5));

describe("image builder: layers and cache", () => {
  it("runs each step in a bubblewrap sandbox and streams progress; an unchanged rebuild is all cache hits", async () => {
    const cache = scratch();
    const spec = node([
      { kind: "runCommands", commands: ["mkdir -p /app", "echo one > /app/one"] },
      { kind: "runCommands", commands: ["echo two > /app/two", "echo step-output"] },
    ]);
    const first = await build(spec, cache);
    expect(first.log).toContain("[1/2] RUN mkdir -p /app && echo one > /app/one");
    expect(first.log).toContain("step-output");
    expect(first.log.some((l) => /^\[2\/2\] done in /.test(l))).toBe(true);
    const root = rootOf(first.image);
    expect(readFileSync(join(root, "app/one"), "utf8")).toBe("one\n");
    expect(readFileSync(join(root, "app/two"), "utf8")).toBe("two\n");

    const again = await build(spec, cache);
    expect(again.log).toEqual(["[1/2] CACHED RUN mkdir -p /app && echo one > /app/one", "[2/2] CACHED RUN echo two > /app/two && echo step-output"]);
    expect(again.image.key).toBe(first.image.key);
  });

  it("a changed step rebuilds itself and every later step, never the earlier ones", async () => {
    const cache = scratch();
    const steps = (middle: string): ImageStep[] => [
      { kind: "runCommands", commands: ["echo a > /a"] },
      { kind: "runCommands", commands: [middle] },
      { kind: "runCommands", commands: ["cat /b > /c"] },
    ];
    const first = await build(node(steps("echo b1 > /b")), cache);
    const second = await build(node(steps("echo b2 > /b")), cache);
    expect(cached(second.log)).toEqual(["[1/3]"]);
    expect(ran(second.log)).toEqual(["[2/3]", "[3/3]"]);
    expect(second.image.key).not.toBe(first.image.key);
    expect(readFileSync(join(rootOf(second.image), "c"), "utf8")).toBe("b2\n");
  });

  it("force rebuilds every step", async () => {
    const cache = scratch();
    const spec = node([{ kind: "runCommands", commands: ["echo x > /x"] }, { kind: "runCommands", commands: ["echo y > /y"] }]);
    await build(spec, cache);
    const forced = await build(spec, cache, { force: true });
    expect(ran(forced.log)).toEqual(["[1/2]", "[2/2]"]);
    expect(cached(forced.log)).toEqual([]);
  });

  it("env and workdir apply to later steps; deletions become whiteouts", async () => {
    const cache = scratch();
    const { image } = await build(node([
      { kind: "runCommands", commands: ["mkdir -p /srv/old", "echo gone > /srv/old/f"] },
      { kind: "env", vars: { GREETING: "hello world" } },
      { kind: "workdir", path: "/srv/work" },
      { kind: "runCommands", commands: ["echo \"$GREETING from $(pwd)\" > out.txt", "rm -r /srv/old"] },
    ]), cache);
    expect(image.env).toEqual({ GREETING: "hello world" });
    expect(image.workdir).toBe("/srv/work");
    const root = rootOf(image);
    expect(readFileSync(join(root, "srv/work/out.txt"), "utf8")).toBe("hello world from /srv/work\n");
    expect(existsSync(join(root, "srv/old"))).toBe(false);
    expect(existsSync(join(image.layers[1]!.dir, "srv/.wh.old"))).toBe(true);
  });

  it("the base's system directories are the host's, read-only; Ferry's Node runtime is at /opt/ferry/node", async () => {
    const cache = scratch();
    await expect(build(node([{ kind: "runCommands", commands: ["touch /usr/evil"] }]), cache)).rejects.toBeInstanceOf(BuildStepError);
    const { log } = await build(node([{ kind: "runCommands", commands: ["node -e 'console.log(\"node\", typeof process.version)'"] }]), cache);
    expect(log).toContain("node string");
  });
});

describe("image builder: local files", () => {
  const assets = () => {
    const dir = join(scratch(), "assets");
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "a.txt"), "A");
    writeFileSync(join(dir, "sub/run.sh"), "#!/bin/sh\necho run\n");
    chmodSync(join(dir, "sub/run.sh"), 0o755);
    symlinkSync("a.txt", join(dir, "alias"));
    return dir;
  };

  it("addLocalDir with copy bakes the files into a layer (modes and links kept); editing them rebuilds", async () => {
    const cache = scratch();
    const dir = assets();
    const spec = node([{ kind: "addLocalDir", local: dir, remote: "/assets", copy: true }, { kind: "runCommands", commands: ["cat /assets/alias > /seen"] }]);
    const first = await build(spec, cache);
    const root = rootOf(first.image);
    expect(readFileSync(join(root, "seen"), "utf8")).toBe("A");
    expect(statSync(join(root, "assets/sub/run.sh")).mode & 0o777).toBe(0o755);
    writeFileSync(join(dir, "a.txt"), "B");
    const second = await build(spec, cache);
    expect(ran(second.log)).toEqual(["[1/2]", "[2/2]"]);
    expect(readFileSync(join(rootOf(second.image), "seen"), "utf8")).toBe("B");
  });

  it("without copy, local files are mounted at start: their content is not in the cache key", async () => {
    const cache = scratch();
    const dir = assets();
    const spec = node([{ kind: "runCommands", commands: ["echo x > /x"] }, { kind: "addLocalDir", local: dir, remote: "/assets", copy: false }]);
    const first = await build(spec, cache);
    expect(first.image.mounts).toEqual([{ kind: "dir", local: dir, remote: "/assets" }]);
    writeFileSync(join(dir, "a.txt"), "changed");
    const second = await build(spec, cache);
    expect(second.image.key).toBe(first.image.key);
    expect(ran(second.log)).toEqual([]);
  });

  it("refuses addLocalDir with a symlink pointing outside the directory (mounted or copied)", async () => {
    const dir = assets();
    symlinkSync("/etc/passwd", join(dir, "sub/escape"));
    for (const copy of [true, false]) {
      const err = await build(node([{ kind: "addLocalDir", local: dir, remote: "/assets", copy }]), scratch()).catch((e) => e);
      expect(err).toBeInstanceOf(LocalInputError);
      expect(err.message).toMatch(/symlink to \/etc\/passwd, outside/);
    }
    const dir2 = assets();
    symlinkSync("../../..", join(dir2, "sub/up"));
    await expect(build(node([{ kind: "addLocalDir", local: dir2, remote: "/assets", copy: true }]), scratch())).rejects.toBeInstanceOf(LocalInputError);
  });

  it("refuses a missing local file and a relative remote path", async () => {
    await expect(build(node([{ kind: "addLocalFile", local: "/nonexistent/file", remote: "/f", copy: true }]), scratch())).rejects.toThrow(/does not exist/);
    const f = join(scratch(), "f.txt");
    writeFileSync(f, "x");
    await expect(build(node([{ kind: "addLocalFile", local: f, remote: "relative/f", copy: true }]), scratch())).rejects.toThrow(/must be an absolute path/);
  });
});

describe("image builder: failures", () => {
  it("a failing step reports its command, exit code and the tail of its log", async () => {
    const err = await build(node([{ kind: "runCommands", commands: ["echo preparing", "echo broken-thing >&2", "exit 3"] }]), scratch()).catch((e) => e);
    expect(err).toBeInstanceOf(BuildStepError);
    expect(err.exitCode).toBe(3);
    expect(err.command).toBe("echo preparing; echo broken-thing >&2; exit 3");
    expect(err.logTail).toEqual(expect.arrayContaining(["preparing", "broken-thing"]));
    expect(err.message).toMatch(/\[1\/1\] RUN .* exited with code 3/);
    expect(err.message).toContain("broken-thing");
  });

  it("a build that exceeds its timeout is stopped", async () => {
    const started = Date.now();
    const err = await build(node([{ kind: "runCommands", commands: ["echo start", "sleep 60"] }]), scratch(), { timeoutS: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(BuildTimeoutError);
    expect(err.message).toMatch(/exceeded its timeout of 1 s during step \[1\/1\] RUN/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
