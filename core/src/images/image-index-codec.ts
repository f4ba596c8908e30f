import { Result } from "effect";
import { decodeAt } from "../domain/decode.ts";
import { ValidationError } from "../errors/errors.ts";
import { Limits } from "../limits/limits.ts";
import { sha256Hex } from "../bytes/sha256-hex.ts";
import type { BlockStore } from "./block-store.ts";
import { ImageIndex, type ImageEntry } from "./image-index.ts";
import { compareImagePaths, imageParentOf, imagePathProblem } from "./image-path.ts";

const utf8 = new TextEncoder();

/** What makes a file entry's blocks inconsistent with its size, if anything. */
const fileProblem = (e: Extract<ImageEntry, { type: "file" }>, chunkBytes: number): string | undefined => {
  if (e.size <= chunkBytes) return e.chunks === undefined ? undefined : `${e.path}: a file of at most ${chunkBytes} bytes has no chunks`;
  if (e.chunks === undefined) return `${e.path}: a file of ${e.size} bytes needs chunks of ${chunkBytes} bytes`;
  const n = Math.ceil(e.size / chunkBytes);
  if (e.chunks.length !== n) return `${e.path}: ${e.size} bytes make ${n} chunks, not ${e.chunks.length}`;
  for (let i = 0; i < n; i++) {
    const want = i < n - 1 ? chunkBytes : e.size - chunkBytes * (n - 1);
    if (e.chunks[i].size !== want) return `${e.path}: chunk ${i} must be ${want} bytes, not ${e.chunks[i].size}`;
  }
  return undefined;
};

/**
 * What is wrong with a schema-valid index, if anything: a bad or repeated path, a path whose
 * parent is not a listed directory, a size that disagrees with its entry, chunks that do not
 * tile the file, or more entries than `Limits.maxImageIndexEntries`.
 *
 * @example
 * ```ts
 * imageIndexProblem({ version: 1, chunkBytes: 4, entries: [{ path: "a/b", type: "dir", mode: 0o755, size: 0 }] });
 * // "a/b: its parent directory a is not listed"
 * ```
 */
export const imageIndexProblem = (index: ImageIndex): string | undefined => {
  if (index.entries.length > Limits.maxImageIndexEntries) {
    return `the index lists ${index.entries.length} entries; the limit (maxImageIndexEntries) is ${Limits.maxImageIndexEntries}`;
  }
  const kinds = new Map<string, ImageEntry["type"]>();
  for (const e of index.entries) {
    const bad = imagePathProblem(e.path);
    if (bad) return bad;
    if (kinds.has(e.path)) return `${e.path}: listed twice`;
    kinds.set(e.path, e.type);
  }
  for (const e of index.entries) {
    const parent = imageParentOf(e.path);
    if (parent !== "" && kinds.get(parent) !== "dir") return `${e.path}: its parent directory ${parent} is not listed`;
    if (e.type === "dir" && e.size !== 0) return `${e.path}: a directory's size is 0`;
    if (e.type === "symlink" && e.size !== utf8.encode(e.target).byteLength) return `${e.path}: a symlink's size is its target's length in bytes`;
    if (e.type === "file") {
      const bad = fileProblem(e, index.chunkBytes);
      if (bad) return bad;
    }
  }
  return undefined;
};

/** An entry with its keys in canonical order and absent optional keys left out. */
const canonicalEntry = (e: ImageEntry): ImageEntry => {
  switch (e.type) {
    case "file":
      return e.chunks === undefined
        ? { path: e.path, type: e.type, mode: e.mode, size: e.size, digest: e.digest }
        : { path: e.path, type: e.type, mode: e.mode, size: e.size, digest: e.digest, chunks: e.chunks.map((c) => ({ digest: c.digest, size: c.size })) };
    case "dir":
      return { path: e.path, type: e.type, mode: e.mode, size: e.size };
    case "symlink":
      return { path: e.path, type: e.type, mode: e.mode, size: e.size, target: e.target };
  }
};

/**
 * The canonical encoding of an index: UTF-8 JSON without spaces, keys in a fixed order,
 * entries sorted by path. Equal trees encode to equal bytes, so they get one id.
 *
 * @example
 * ```ts
 * const bytes = encodeImageIndex(index);
 * ```
 */
export const encodeImageIndex = (index: ImageIndex): Uint8Array => {
  const entries = [...index.entries].sort((a, b) => compareImagePaths(a.path, b.path)).map(canonicalEntry);
  return utf8.encode(JSON.stringify({ version: index.version, chunkBytes: index.chunkBytes, entries }));
};

/**
 * An image's id: the SHA-256 of its index's canonical encoding, which is also the digest under
 * which `storeImageIndex` keeps the index in a block store.
 *
 * @example
 * ```ts
 * const id = await imageIdOf(index); // "3f0a…"
 * ```
 */
export const imageIdOf = (index: ImageIndex): Promise<string> => sha256Hex(encodeImageIndex(index));

/**
 * Decode an index from its JSON value (an HTTP body, a stored block parsed), or fail with a
 * `ValidationError` naming the field or path at fault.
 *
 * @example
 * ```ts
 * const r = decodeImageIndex(JSON.parse(text), "index");
 * if (r._tag === "Success") use(r.success);
 * ```
 */
export const decodeImageIndex = (value: unknown, root = "index"): Result.Result<ImageIndex, ValidationError> => {
  const r = decodeAt(ImageIndex, value, root);
  if (Result.isFailure(r)) return r;
  const problem = imageIndexProblem(r.success);
  return problem === undefined ? r : Result.fail(new ValidationError({ field: `${root}.entries`, message: `${root}: ${problem}` }));
};

/**
 * Decode an index from its encoded bytes (at most `Limits.maxImageIndexBytes`).
 *
 * @example
 * ```ts
 * const r = decodeImageIndexBytes(await store.get(imageId));
 * ```
 */
export const decodeImageIndexBytes = (bytes: Uint8Array, root = "index"): Result.Result<ImageIndex, ValidationError> => {
  if (bytes.byteLength > Limits.maxImageIndexBytes) {
    return Result.fail(new ValidationError({ field: root, message: `${root}: ${bytes.byteLength} bytes; the limit (maxImageIndexBytes) is ${Limits.maxImageIndexBytes}` }));
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return Result.fail(new ValidationError({ field: root, message: `${root}: not valid JSON` }));
  }
  return decodeImageIndex(value, root);
};

/**
 * Check an index and keep its canonical encoding in `store`; returns the image id. The index is
 * a block like any other, so the region serves it and nodes cache it the same way.
 *
 * @example
 * ```ts
 * const imageId = await storeImageIndex(store, index);
 * ```
 */
export const storeImageIndex = async (store: BlockStore, index: ImageIndex): Promise<string> => {
  const checked = decodeImageIndex(index);
  if (Result.isFailure(checked)) throw checked.failure;
  return store.put(encodeImageIndex(checked.success));
};

/**
 * Load and check the index of image `imageId` from `store` (rejects with `BlockNotFoundError`
 * when absent, `ValidationError` when the block is not an image index).
 *
 * @example
 * ```ts
 * const index = await loadImageIndex(store, imageId);
 * ```
 */
export const loadImageIndex = async (store: Pick<BlockStore, "get">, imageId: string): Promise<ImageIndex> => {
  const r = decodeImageIndexBytes(await store.get(imageId), `image ${imageId}`);
  if (Result.isFailure(r)) throw r.failure;
  return r.success;
};

