import { Hono, type Context } from "hono";
import { Result } from "effect";
import {
  BlockDigestMismatchError, BlockNotFoundError, decodeImageIndexBytes, errorBody, isBlockDigest, NotFoundError, statusOf,
  ValidationError, type ApiError, type BlockStore,
} from "@ferry/core";

/** What the block routes read from. */
export interface BlockRoutesDeps {
  /** The region's block store (a local directory, or an S3-compatible bucket). */
  readonly store: BlockStore;
  /** What a peer region's request (marked with `x-ferry-peer-fetch`) is answered from: the store without read-through. */
  readonly peerStore?: BlockStore;
}

/** Marks a region's request to a peer: the peer answers from its own store only (no fetch chains between regions). */
export const PEER_FETCH_HEADER = "x-ferry-peer-fetch";

/** The store a request reads: a peer region's request never reads through to other regions. */
const storeFor = (deps: BlockRoutesDeps, c: Context): BlockStore =>
  c.req.header(PEER_FETCH_HEADER) !== undefined && deps.peerStore !== undefined ? deps.peerStore : deps.store;

const fail = (c: Context, e: ApiError) => c.json(errorBody(e), statusOf(e));

/** A digest from the URL, or the 400 that refuses it. */
const digestParam = (c: Context, name: string): string | ValidationError =>
  isBlockDigest(c.req.param(name) ?? "")
    ? (c.req.param(name) as string)
    : new ValidationError({ field: name, message: `${name}: expected a sha256 digest (64 lowercase hex characters)` });

/** Read a block, mapping store errors to API errors (a corrupted stored block is a 404 here, never its bytes). */
const readBlock = async (store: BlockStore, digest: string, kind: string): Promise<Result.Result<Uint8Array, ApiError>> => {
  try {
    return Result.succeed(await store.get(digest));
  } catch (e) {
    if (e instanceof BlockNotFoundError || e instanceof BlockDigestMismatchError) return Result.fail(new NotFoundError({ kind, id: digest }));
    throw e;
  }
};

/**
 * The region's read side of the block store, for its nodes, mounted under `/internal` (behind
 * the internal token): `GET /blocks/:digest` answers a block's bytes (verified against the
 * digest before they leave), `GET /images/:id` an image's index (its canonical JSON encoding). A malformed digest is
 * a 400, an absent block or image a 404.
 *
 * @example
 * ```ts
 * app.route("/internal", blockRoutes({ store: new LocalDirBlockStore(join(stateDir, "blocks")) }));
 * // GET /internal/blocks/3f0a… → application/octet-stream
 * ```
 */
export const blockRoutes = (deps: BlockRoutesDeps) => {
  const app = new Hono();

  app.get("/blocks/:digest", async (c) => {
    const digest = digestParam(c, "digest");
    if (digest instanceof ValidationError) return fail(c, digest);
    const block = await readBlock(storeFor(deps, c), digest, "block");
    if (Result.isFailure(block)) return fail(c, block.failure);
    return c.body(block.success as Uint8Array<ArrayBuffer>, 200, {
      "content-type": "application/octet-stream",
      // Content never changes under a digest.
      "cache-control": "public, max-age=31536000, immutable",
    });
  });

  app.get("/images/:id", async (c) => {
    const id = digestParam(c, "id");
    if (id instanceof ValidationError) return fail(c, id);
    const block = await readBlock(storeFor(deps, c), id, "image");
    if (Result.isFailure(block)) return fail(c, block.failure);
    const index = decodeImageIndexBytes(block.success, `image ${id}`);
    // A block that is not an image index is not an image.
    if (Result.isFailure(index)) return fail(c, new NotFoundError({ kind: "image", id }));
    // The canonical encoding itself, so the node can check it hashes to the id it asked for.
    return c.body(block.success as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/json", "cache-control": "public, max-age=31536000, immutable" });
  });

  return app;
};
