import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdir, open, readdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import {
  ATTR_OUT_SIZE,
  ENTRY_OUT_SIZE,
  Errno,
  FuseOp,
  IN_HEADER_SIZE,
  INIT_OUT_SIZE,
  InvalidImageIndexError,
  LAZY_MOUNT_SOURCE,
  OUT_HEADER_SIZE,
  STATFS_OUT_SIZE,
  buildLazyTree,
  directoryListing,
  encodeDirents,
  handleFuseRequest,
  isMounted,
  lookupChild,
  mountLazyImage,
  type LazyEntry,
  type LazyMount,
  type LazySource,
} from "../src/images/fuse/index.ts";
import { SANDBOX_NODE_DIR, defaultNodeImageBinds, startSandbox } from "../src/sandbox/index.ts";

const run = promisify(execFile);
const sh = async (script: string): Promise<string> => (await run("sh", ["-c", script])).stdout;
const shFails = async (script: string): Promise<string> => {
  try {
    await run("sh", ["-c", script]);
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
  throw new Error(`expected failure: ${script}`);
};

/** An image over a real directory that counts what it fetches (the node cache stands in here). */
interface CountingSource extends LazySource {
  readonly fetches: { path: string; offset: number; length: number }[];
  fetchedBytes(path: string): number;
  fetchedPaths(): string[];
}

const indexDirectory = (root: string): LazyEntry[] => {
  const entries: LazyEntry[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const path = relative(root, full);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) entries.push({ path, kind: "symlink", mode: 0o777, size: 0, linkTarget: readlinkSync(full), mtimeMs: st.mtimeMs });
      else if (st.isDirectory()) {
        entries.push({ path, kind: "directory", mode: st.mode & 0o7777, size: 0, mtimeMs: st.mtimeMs });
        walk(full);
      } else entries.push({ path, kind: "file", mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  walk(root);
  return entries;
};

const countingSource = (root: string, failing: ReadonlySet<string> = new Set()): CountingSource => {
  const fetches: { path: string; offset: number; length: number }[] = [];
  return {
    index: { entries: indexDirectory(root) },
    fetches,
    fetchedBytes: (path) => fetches.filter((f) => f.path === path).reduce((sum, f) => sum + f.length, 0),
    fetchedPaths: () => [...new Set(fetches.map((f) => f.path))],
    read: async (path, offset, length) => {
      if (failing.has(path)) throw new Error(`block store unreachable for ${path}`);
      const handle = await open(join(root, path), "r");
      try {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        fetches.push({ path, offset, length: bytesRead });
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },
  };
};

const BIG_FILE_BYTES = 3 * 1024 * 1024 + 12345;
const work = mkdtempSync(join(tmpdir(), "lazy-fuse-"));
const sourceRoot = join(work, "image");
const bigFile = randomBytes(BIG_FILE_BYTES);

const writeTree = (): void => {
  const files: Record<string, string | Buffer> = {
    "hello.txt": "hello from a lazy image\n",
    "etc/config.json": JSON.stringify({ region: "eu" }),
    "data/big.bin": bigFile,
    "data/untouched.bin": randomBytes(200_000),
    "app/main.mjs": 'import { double } from "./lib/math.mjs";\nexport const answer = double(21);\n',
    "app/lib/math.mjs": "export const double = (n) => n * 2;\n",
    "app/lib/unused.mjs": "export const never = true;\n",
    "bin/greet": "#!/bin/sh\necho \"greetings $1\"\n",
    "empty/.keep": "",
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(sourceRoot, path)), { recursive: true });
    writeFileSync(join(sourceRoot, path), content);
  }
  chmodSync(join(sourceRoot, "bin/greet"), 0o755);
  symlinkSync("../hello.txt", join(sourceRoot, "etc/motd"));
  mkdirSync(join(sourceRoot, "deep/a/b/c"), { recursive: true });
};

/** Whether this host can mount FUSE at all (root, /dev/fuse, util-linux mount); why not, if not. */
const fuseProbe = (): { ok: boolean; why: string } => {
  if (process.getuid?.() !== 0) return { ok: false, why: "not root: mounting FUSE needs CAP_SYS_ADMIN" };
  if (!existsSync("/dev/fuse")) return { ok: false, why: "/dev/fuse is missing (fuse module not loaded)" };
  if (!existsSync("/usr/bin/mount") || !existsSync("/usr/bin/umount")) return { ok: false, why: "util-linux mount/umount not found" };
  return { ok: true, why: "" };
};
const probe = fuseProbe();

let counter = 0;
const withMount = async <T>(
  fn: (mount: LazyMount, source: CountingSource, errors: string[]) => Promise<T>,
  failing?: ReadonlySet<string>,
): Promise<T> => {
  const mountpoint = join(work, `mnt-${++counter}`);
  await mkdir(mountpoint);
  const source = countingSource(sourceRoot, failing);
  const errors: string[] = [];
  const mount = await mountLazyImage({ mountpoint, source, onError: (message) => errors.push(message) });
  try {
    return await fn(mount, source, errors);
  } finally {
    await mount.unmount();
  }
};

beforeAll(() => {
  writeTree();
  chmodSync(work, 0o755); // the sandbox test binds a mount point below it as host user nobody
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe("lazy tree and protocol (no mount)", () => {
  const request = (opcode: number, nodeid: number, body: Buffer = Buffer.alloc(0)): Buffer => {
    const header = Buffer.alloc(IN_HEADER_SIZE);
    header.writeUInt32LE(IN_HEADER_SIZE + body.length, 0);
    header.writeUInt32LE(opcode, 4);
    header.writeBigUInt64LE(99n, 8);
    header.writeBigUInt64LE(BigInt(nodeid), 16);
    return Buffer.concat([header, body]);
  };
  const context = () => ({ tree: buildLazyTree({ entries: indexDirectory(sourceRoot) }, 0), source: countingSource(sourceRoot), onFirstRead: () => undefined, onError: () => undefined });
  const errorOf = (reply: Buffer | undefined): number => reply?.readInt32LE(4) ?? NaN;

  it("fills in directories the index implies and rejects paths that escape or repeat", () => {
    const tree = buildLazyTree({ entries: [{ path: "/a/b/c.txt", kind: "file", mode: 0o644, size: 3 }] }, 0);
    const a = lookupChild(tree, 1, "a");
    expect(a?.kind).toBe("directory");
    const b = lookupChild(tree, a?.ino ?? 0, "b");
    expect(lookupChild(tree, b?.ino ?? 0, "c.txt")?.attr).toMatchObject({ size: 3, mode: 0o100644 });
    expect(directoryListing(tree, tree.nodes.get(1)!).map((d) => d.name)).toEqual([".", "..", "a"]);
    expect(() => buildLazyTree({ entries: [{ path: "../etc/passwd", kind: "file", mode: 0o644, size: 1 }] }, 0)).toThrow(InvalidImageIndexError);
    const twice: LazyEntry = { path: "x", kind: "file", mode: 0o644, size: 1 };
    expect(() => buildLazyTree({ entries: [twice, { ...twice, path: "./x" }] }, 0)).toThrow(/twice/);
    expect(() => buildLazyTree({ entries: [twice, { path: "x/y", kind: "file", mode: 0o644, size: 1 }] }, 0)).toThrow(/not a directory/);
  });

  it("encodes directory entries 8-byte aligned, continuing from the offset the kernel passes back", () => {
    const entries = [{ ino: 1, name: ".", mode: 0o40755 }, { ino: 2, name: "hello.txt", mode: 0o100644 }, { ino: 3, name: "z", mode: 0o120777 }];
    const all = encodeDirents(entries, 0, 4096);
    expect(all.length).toBe(32 + 40 + 32); // 24 + name, rounded up to 8
    expect(all.readBigUInt64LE(32 + 8)).toBe(2n); // off of entry 1 = index of the next
    expect(all.readUInt32LE(32 + 20)).toBe(8); // DT_REG
    expect(encodeDirents(entries, 0, 71).length).toBe(32); // the second entry does not fit
    expect(encodeDirents(entries, 2, 4096).readUInt32LE(20)).toBe(10); // DT_LNK, resumed at index 2
  });

  it("answers with the kernel's struct sizes, EROFS to writes and ENOSYS to unknown opcodes", async () => {
    const ctx = context();
    const init = Buffer.alloc(64);
    init.writeUInt32LE(7, 0);
    init.writeUInt32LE(44, 4);
    init.writeUInt32LE(131072, 8);
    init.writeUInt32LE(0xffffffff, 12);
    const initReply = (await handleFuseRequest(ctx, request(FuseOp.INIT, 0, init))).reply!;
    expect(initReply.length).toBe(OUT_HEADER_SIZE + INIT_OUT_SIZE);
    expect([initReply.readUInt32LE(16), initReply.readUInt32LE(20), initReply.readUInt32LE(24)]).toEqual([7, 31, 131072]);
    const lookup = (await handleFuseRequest(ctx, request(FuseOp.LOOKUP, 1, Buffer.from("hello.txt\0")))).reply!;
    expect(lookup.length).toBe(OUT_HEADER_SIZE + ENTRY_OUT_SIZE);
    expect(lookup.readBigUInt64LE(16 + 40 + 8)).toBe(24n); // fuse_attr.size
    const missing = (await handleFuseRequest(ctx, request(FuseOp.LOOKUP, 1, Buffer.from("nope\0")))).reply!;
    expect([errorOf(missing), missing.readBigUInt64LE(16)]).toEqual([0, 0n]); // cached negative entry
    expect((await handleFuseRequest(ctx, request(FuseOp.GETATTR, 1, Buffer.alloc(16)))).reply!.length).toBe(OUT_HEADER_SIZE + ATTR_OUT_SIZE);
    expect((await handleFuseRequest(ctx, request(FuseOp.STATFS, 1))).reply!.length).toBe(OUT_HEADER_SIZE + STATFS_OUT_SIZE);
    for (const op of [FuseOp.WRITE, FuseOp.MKDIR, FuseOp.UNLINK, FuseOp.SETATTR, FuseOp.CREATE, FuseOp.RENAME]) {
      expect(errorOf((await handleFuseRequest(ctx, request(op, 1, Buffer.alloc(64)))).reply)).toBe(-Errno.EROFS);
    }
    expect(errorOf((await handleFuseRequest(ctx, request(200, 1))).reply)).toBe(-Errno.ENOSYS);
    expect(errorOf((await handleFuseRequest(ctx, request(FuseOp.FLUSH, 2, Buffer.alloc(24)))).reply)).toBe(-Errno.ENOSYS); // kernel stops sending FLUSH
    expect(errorOf((await handleFuseRequest(ctx, request(FuseOp.GETATTR, 9999, Buffer.alloc(16)))).reply)).toBe(-Errno.ENOENT);
    expect((await handleFuseRequest(ctx, request(FuseOp.FORGET, 2, Buffer.alloc(8)))).reply).toBeUndefined();
  });
});

describe.skipIf(!probe.ok)(`lazy FUSE mount over /dev/fuse${probe.ok ? "" : ` (skipped: ${probe.why})`}`, () => {
  it("ls, stat, readlink and find from a child process agree with the source tree", async () => {
    await withMount(async ({ mountpoint }) => {
      const listing = (root: string) => sh(`cd ${root} && find . -printf '%P %y %m\\n' | sort`);
      expect(await listing(mountpoint)).toBe(await listing(sourceRoot));
      const sizes = (root: string) => sh(`cd ${root} && find . -type f -printf '%P %s\\n' | sort`);
      expect(await sizes(mountpoint)).toBe(await sizes(sourceRoot));
      expect(await sh(`ls -1a ${mountpoint}/app/lib`)).toBe(await sh(`ls -1a ${sourceRoot}/app/lib`));
      expect((await sh(`readlink ${mountpoint}/etc/motd`)).trim()).toBe("../hello.txt");
      expect((await sh(`stat -c '%s %a %F' ${mountpoint}/bin/greet`)).trim()).toBe(`${lstatSync(join(sourceRoot, "bin/greet")).size} 755 regular file`);
      expect(await sh(`grep ' ${mountpoint} ' /proc/self/mounts`)).toContain(`${LAZY_MOUNT_SOURCE} ${mountpoint} fuse ro`);
    });
  });

  it("fetches no bytes for listing and stat, and only the bytes of files actually read", async () => {
    await withMount(async ({ mountpoint }, source) => {
      await sh(`ls -laR ${mountpoint} >/dev/null && find ${mountpoint} -type f -exec stat {} + >/dev/null`);
      expect(source.fetches).toEqual([]);
      expect(await sh(`cat ${mountpoint}/etc/motd`)).toBe("hello from a lazy image\n"); // through the symlink
      expect(await sh(`cat ${mountpoint}/etc/config.json`)).toBe('{"region":"eu"}');
      expect(source.fetchedPaths().sort()).toEqual(["etc/config.json", "hello.txt"]);
      expect(source.fetchedBytes("data/untouched.bin")).toBe(0);
    });
  });

  it("serves a file over 1 MiB whole: sha256sum in a child matches the source, fetched in chunks", async () => {
    await withMount(async ({ mountpoint }, source) => {
      const digest = (await sh(`sha256sum ${mountpoint}/data/big.bin`)).split(" ")[0];
      expect(digest).toBe(createHash("sha256").update(bigFile).digest("hex"));
      expect(source.fetchedBytes("data/big.bin")).toBeGreaterThanOrEqual(BIG_FILE_BYTES);
      expect(source.fetches.filter((f) => f.path === "data/big.bin").length).toBeGreaterThan(1);
      // A second read is served by the kernel's page cache: nothing more is fetched.
      const before = source.fetches.length;
      await sh(`cat ${mountpoint}/data/big.bin >/dev/null`);
      expect(source.fetches.length).toBe(before);
      // A read in the middle of the file reaches the right bytes.
      const middle = await sh(`dd if=${mountpoint}/data/big.bin bs=1 skip=2000000 count=16 status=none | od -An -tx1 | tr -d ' \\n'`);
      expect(middle).toBe(bigFile.subarray(2_000_000, 2_000_016).toString("hex"));
    });
  });

  it("runs an executable from the mount and lets Node import() an ESM module graph from it", async () => {
    await withMount(async ({ mountpoint }, source) => {
      expect(await sh(`${mountpoint}/bin/greet lazy`)).toBe("greetings lazy\n");
      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(`${mountpoint}/app/main.mjs`)}); console.log(m.answer);`]);
      expect(stdout).toBe("42\n");
      expect(source.fetchedPaths()).not.toContain("app/lib/unused.mjs");
    });
  });

  it("records each file read once, in first-read order, with the time since mount", async () => {
    await withMount(async (mount) => {
      await sh(`cat ${mount.mountpoint}/etc/config.json ${mount.mountpoint}/hello.txt ${mount.mountpoint}/etc/config.json >/dev/null`);
      await sh(`head -c 10 ${mount.mountpoint}/data/big.bin >/dev/null`);
      const log = mount.accessLog();
      expect(log.map((record) => record.path)).toEqual(["etc/config.json", "hello.txt", "data/big.bin"]);
      expect(log.every((record, i) => record.atMs >= 0 && record.atMs >= (log[i - 1]?.atMs ?? 0))).toBe(true);
    });
  });

  it("refuses every write with EROFS", async () => {
    await withMount(async ({ mountpoint }, source) => {
      expect(await shFails(`echo x > ${mountpoint}/new.txt`)).toMatch(/Read-only file system/);
      expect(await shFails(`echo x >> ${mountpoint}/hello.txt`)).toMatch(/Read-only file system/);
      expect(await shFails(`mkdir ${mountpoint}/dir`)).toMatch(/Read-only file system/);
      expect(await shFails(`rm ${mountpoint}/hello.txt`)).toMatch(/Read-only file system/);
      await expect(writeFile(join(mountpoint, "hello.txt"), "overwrite")).rejects.toMatchObject({ code: "EROFS" });
      expect(await sh(`cat ${mountpoint}/hello.txt`)).toBe("hello from a lazy image\n");
      expect(source.fetchedPaths()).toEqual(["hello.txt"]);
    });
  });

  it("turns a failed fetch into EIO for the reader, without serving bytes", async () => {
    await withMount(async ({ mountpoint }, source, errors) => {
      expect(await shFails(`cat ${mountpoint}/data/untouched.bin`)).toMatch(/Input\/output error/);
      expect(source.fetchedBytes("data/untouched.bin")).toBe(0);
      expect(errors[0]).toMatch(/lazy image read of data\/untouched.bin at 0\+\d+ failed: block store unreachable/);
      expect(await sh(`cat ${mountpoint}/hello.txt`)).toBe("hello from a lazy image\n"); // the mount still serves
    }, new Set(["data/untouched.bin"]));
  });

  it("serves a bubblewrap sandbox (host user nobody) through a read-only bind of the mount", async () => {
    await withMount(async ({ mountpoint }, source) => {
      const sandbox = startSandbox({
        id: `lazy-fuse-${process.pid}`,
        rootfs: defaultNodeImageBinds(dirname(process.execPath)),
        readOnlyBinds: [{ hostPath: mountpoint, sandboxPath: "/image" }],
        argv: [`${SANDBOX_NODE_DIR}/node`, "--input-type=module", "-e", 'const m = await import("/image/app/main.mjs"); const fs = await import("node:fs"); console.log(m.answer, fs.readFileSync("/image/hello.txt", "utf8").trim(), process.getuid());'],
        network: "none",
      });
      let stdout = "";
      let stderr = "";
      sandbox.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      sandbox.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exit = await sandbox.exited;
      expect({ code: exit.code, stderr }).toEqual({ code: 0, stderr: "" });
      expect(stdout).toBe("42 hello from a lazy image 1000\n");
      expect(source.fetchedPaths().sort()).toEqual(["app/lib/math.mjs", "app/main.mjs", "hello.txt"]);
    });
  });

  it("unmounts cleanly, leaving no mount behind, even while a file is open", async () => {
    const mountpoint = join(work, "mnt-unmount");
    await mkdir(mountpoint);
    const mount = await mountLazyImage({ mountpoint, source: countingSource(sourceRoot) });
    expect(await isMounted(mountpoint)).toBe(true);
    expect((await stat(join(mountpoint, "hello.txt"))).size).toBe(24);
    await mount.unmount();
    expect(await isMounted(mountpoint)).toBe(false);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(mountpoint);
    expect(await readdir(mountpoint)).toEqual([]);
    await mount.unmount(); // idempotent

    // Busy: a child holds a file open; the mount is detached at once and the server stops when it lets go.
    const busy = await mountLazyImage({ mountpoint, source: countingSource(sourceRoot) });
    const holder = run("sh", ["-c", `exec 3<${mountpoint}/hello.txt; echo opened; sleep 0.5; cat <&3`]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    await busy.unmount();
    expect(await isMounted(mountpoint)).toBe(false);
    // The open descriptor still reads: the detached mount is served until its last user is gone.
    expect((await holder).stdout).toBe("opened\nhello from a lazy image\n");
  });
});
