import { mkdir, mkdtemp, readdir, rm, symlink, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error s3rver ships no types
import S3rver from "s3rver";
import { AwsClient } from "aws4fetch";
import {
  BlockDigestMismatchError, BlockNotFoundError, InvalidBlockDigestError, loadImageIndex, storeImageIndex, type BlockStore, type ImageEntry,
} from "@ferry/core";
import { LocalDirBlockStore } from "../src/store/local-dir-block-store.ts";
import { S3BlockStore } from "../src/store/s3-block-store.ts";
import { indexDirectory, SymlinkEscapeError } from "../src/store/index-directory.ts";

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
const text = (s: string) => new TextEncoder().encode(s);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "ferry-block-store-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every file under `dir`, recursively. */
const filesUnder = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));

/** The same contract, whatever the backend. */
const contract = (name: string, make: () => Promise<BlockStore>) => {
  describe(`${name} block store`, () => {
    let store: BlockStore;
    beforeAll(async () => {
      store = await make();
    });

    it("stores bytes under their sha256 and returns them", async () => {
      const bytes = text(`hello ${name}`);
      const digest = await store.put(bytes);
      expect(digest).toBe(sha(bytes));
      expect(await store.has(digest)).toBe(true);
      expect(new TextDecoder().decode(await store.get(digest))).toBe(`hello ${name}`);
      expect(await store.put(bytes)).toBe(digest);
    });

    it("refuses bytes that do not hash to the digest they are put under", async () => {
      await expect(store.put(text("real"), sha("claimed"))).rejects.toBeInstanceOf(BlockDigestMismatchError);
      expect(await store.has(sha("real"))).toBe(false);
    });

    it("lists the missing digests, each once, and refuses malformed ones", async () => {
      const here = await store.put(text(`present ${name}`));
      const absent = sha(`absent ${name}`);
      expect(await store.missing([here, absent, absent])).toEqual([absent]);
      await expect(store.get(absent)).rejects.toBeInstanceOf(BlockNotFoundError);
      await expect(store.get("../../etc/passwd")).rejects.toBeInstanceOf(InvalidBlockDigestError);
      await expect(store.has("ABC")).rejects.toBeInstanceOf(InvalidBlockDigestError);
    });

    it("indexes a directory into it and loads the index back by image id", async () => {
      const src = join(root, `tree-${name}`);
      await mkdir(join(src, "lib"), { recursive: true });
      await writeFile(join(src, "lib", "a.js"), "export const a = 1;\n");
      await writeFile(join(src, "README"), "hi");
      const { index } = await indexDirectory(src, store);
      const id = await storeImageIndex(store, index);
      expect(await loadImageIndex(store, id)).toEqual(index);
      const a = index.entries.find((e) => e.path === "lib/a.js") as Extract<ImageEntry, { type: "file" }>;
      expect(new TextDecoder().decode(await store.get(a.digest))).toBe("export const a = 1;\n");
    });
  });
};

contract("local directory", async () => new LocalDirBlockStore(join(root, "local")));

let s3: { close(): Promise<void> } | undefined;
contract("S3 (s3rver)", async () => {
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: join(root, "s3rver"), configureBuckets: [{ name: "ferry" }] });
  const { port } = await server.run();
  s3 = server;
  // s3rver checks SigV4 signatures against its fixed development credentials.
  return new S3BlockStore({ endpoint: `http://127.0.0.1:${port}`, bucket: "ferry", accessKeyId: "S3RVER", secretAccessKey: "S3RVER", prefix: "ferry/" });
});
afterAll(async () => {
  await s3?.close();
});

describe("S3 block store requests", () => {
  it("keys blocks as <prefix>blocks/sha256/<digest>", () => {
    const store = new S3BlockStore({ endpoint: "http://s3.invalid", bucket: "b", accessKeyId: "k", secretAccessKey: "s", prefix: "ferry/" });
    expect(store.keyOf(sha("x"))).toBe(`ferry/blocks/sha256/${sha("x")}`);
  });

  it("signs requests with AWS Signature V4 exactly as the AWS documentation's GET Object example", async () => {
    // s3rver does not check V4 signatures, so the signing is checked against AWS's published vector
    // ("Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk").
    const client = new AwsClient({ accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", service: "s3", region: "us-east-1" });
    const signed = await client.sign("https://examplebucket.s3.amazonaws.com/test.txt", {
      method: "GET",
      headers: { range: "bytes=0-9", "x-amz-content-sha256": sha("") },
      aws: { datetime: "20130524T000000Z", allHeaders: true },
    });
    expect(signed.headers.get("authorization")).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
      + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
      + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });
});

describe("local directory block store on disk", () => {
  it("lays blocks out as <dir>/sha256/ab/abcdef… and never returns a block damaged on disk", async () => {
    const store = new LocalDirBlockStore(join(root, "damaged"));
    const digest = await store.put(text("precious"));
    const path = join(root, "damaged", "sha256", digest.slice(0, 2), digest);
    expect(store.pathOf(digest)).toBe(path);
    await chmod(path, 0o644);
    await writeFile(path, "tampered");
    await expect(store.get(digest)).rejects.toBeInstanceOf(BlockDigestMismatchError);
  });
});

describe("indexDirectory", () => {
  it("stores identical files once across directories and images", async () => {
    const dir = join(root, "dupes");
    const blocks = join(root, "dupes-store");
    const store = new LocalDirBlockStore(blocks);
    await mkdir(join(dir, "a"), { recursive: true });
    await mkdir(join(dir, "b"), { recursive: true });
    for (const p of ["a/one.txt", "b/two.txt", "three.txt"]) await writeFile(join(dir, p), "same content");
    await writeFile(join(dir, "other.txt"), "different");
    const { index, files } = await indexDirectory(dir, store);
    expect(files).toBe(4);
    const digests = index.entries.flatMap((e) => (e.type === "file" ? [e.digest] : []));
    expect(new Set(digests).size).toBe(2);
    expect(await filesUnder(blocks)).toHaveLength(2);
    // A second image holding the same file adds nothing.
    const dir2 = join(root, "dupes2");
    await mkdir(dir2);
    await writeFile(join(dir2, "copy.txt"), "same content");
    await indexDirectory(dir2, store);
    expect(await filesUnder(blocks)).toHaveLength(2);
  });

  it("splits a large file into chunks that reassemble to it, and records modes, dirs and links", async () => {
    const dir = join(root, "large");
    const store = new LocalDirBlockStore(join(root, "large-store"));
    await mkdir(join(dir, "bin"), { recursive: true });
    const big = randomBytes(64 * 1024 * 2 + 1000);
    await writeFile(join(dir, "bin", "big.bin"), big);
    await chmod(join(dir, "bin", "big.bin"), 0o755);
    await symlink("big.bin", join(dir, "bin", "alias"));
    const { index } = await indexDirectory(dir, store, { chunkBytes: 64 * 1024 });
    expect(index.chunkBytes).toBe(64 * 1024);
    expect(index.entries.map((e) => [e.path, e.type])).toEqual([["bin", "dir"], ["bin/alias", "symlink"], ["bin/big.bin", "file"]]);
    const entry = index.entries[2] as Extract<ImageEntry, { type: "file" }>;
    expect(entry).toMatchObject({ mode: 0o755, size: big.byteLength, digest: sha(big) });
    expect(entry.chunks?.map((c) => c.size)).toEqual([65536, 65536, 1000]);
    const parts = await Promise.all((entry.chunks ?? []).map((c) => store.get(c.digest)));
    expect(Buffer.concat(parts).equals(big)).toBe(true);
    expect(index.entries[1]).toMatchObject({ target: "big.bin", size: 7 });
    // The index checks out, and is stored as a block under its id.
    const id = await storeImageIndex(store, index);
    expect(await loadImageIndex(store, id)).toEqual(index);
  });

  it("refuses a symlink that points outside the directory, absolute or climbing, before storing anything", async () => {
    for (const [name, target] of [["abs", "/etc/passwd"], ["climb", "../../outside"]] as const) {
      const dir = join(root, `escape-${name}`);
      const blocks = join(root, `escape-${name}-store`);
      await mkdir(join(dir, "sub"), { recursive: true });
      await writeFile(join(dir, "ok.txt"), "fine");
      await symlink(target, join(dir, "sub", "link"));
      const err = await indexDirectory(dir, new LocalDirBlockStore(blocks)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SymlinkEscapeError);
      expect((err as Error).message).toContain("sub/link");
      expect((err as Error).message).toContain(target);
      expect(await readdir(blocks).catch(() => [])).toEqual([]);
    }
  });

  it("keeps absolute symlinks of a whole image root in rootfs mode", async () => {
    const dir = join(root, "rootfs");
    await mkdir(join(dir, "usr", "bin"), { recursive: true });
    await symlink("/etc/alternatives/node", join(dir, "usr", "bin", "node"));
    const { index } = await indexDirectory(dir, new LocalDirBlockStore(join(root, "rootfs-store")), { symlinks: "rootfs" });
    expect(index.entries.find((e) => e.path === "usr/bin/node")).toMatchObject({ type: "symlink", target: "/etc/alternatives/node" });
  });
});

