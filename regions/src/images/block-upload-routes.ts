import { Hono, type Context } from "hono";
import { Result, Schema } from "effect";
import {
  BlockDigest, BlockDigestMismatchError, decodeAt, decodeImageIndexBytes, errorBody, imageBlocks, isBlockDigest, Limits, sha256Hex, statusOf,
  ValidationError, type ApiError, type BlockStore,
} from "@ferry/core";

/** What the upload routes write to. */
export interface BlockUploadRoutesDeps {
  /** The region's block store (the same one `blockRoutes` serves to nodes). */
  readonly store: BlockStore;
}

/** Most digests one `blocks/missing` question may ask about. */
export const MAX_MISSING_DIGESTS = 100_000;

const MissingBody = Schema.Struct({
  digests: Schema.Array(BlockDigest).check(Schema.isMaxLength(MAX_MISSING_DIGESTS, { message: `at most ${MAX_MISSING_DIGESTS} digests per question` })),
});

const fail = (c: Context, e: ApiError) => c.json(errorBody(e), statusOf(e));

const digestParam = (c: Context, name: string): string | ValidationError =>
  isBlockDigest(c.req.param(name) ?? "")
    ? (c.req.param(name) as string)
    : new ValidationError({ field: name, message: `${name}: expected a sha256 digest (64 lowercase hex characters)` });

/**
 * The region's write side of the block store, for deploys (forwarded by the edge's `/v1/images`
 * routes), mounted under `/internal` behind the internal token:
 * - `POST /images/blocks/missing` `{ digests }` → `{ missing }`: which blocks the store lacks;
 * - `PUT /blocks/:digest` (raw bytes, at most `Limits.imageChunkBytes`): stored only if they hash to the digest;
 * - `PUT /images/:id` (an index's canonical encoding): stored only if it hashes to the id, decodes
 *   as an image index and every block it names is already stored, so a published image is whole.
 *
 * @example
 * ```ts
 * app.route("/internal", blockUploadRoutes({ store }));
 * ```
 */
export const blockUploadRoutes = (deps: BlockUploadRoutesDeps) => {
  const app = new Hono();

  app.post("/images/blocks/missing", async (c) => {
    const body = await c.req.json().catch(() => undefined);
    if (body === undefined) return fail(c, new ValidationError({ field: "body", message: "body is not valid JSON" }));
    const decoded = decodeAt(MissingBody, body, "body");
    if (Result.isFailure(decoded)) return fail(c, decoded.failure);
    return c.json({ missing: await deps.store.missing(decoded.success.digests) });
  });

  app.put("/blocks/:digest", async (c) => {
    const digest = digestParam(c, "digest");
    if (digest instanceof ValidationError) return fail(c, digest);
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength > Limits.imageChunkBytes) {
      return fail(c, new ValidationError({ field: "body", message: `a block holds at most ${Limits.imageChunkBytes} bytes (imageChunkBytes); larger files travel as chunks` }));
    }
    try {
      await deps.store.put(bytes, digest);
    } catch (e) {
      if (e instanceof BlockDigestMismatchError) return fail(c, new ValidationError({ field: "body", message: `the bytes hash to ${e.actual}, not ${digest}: upload the block again` }));
      throw e;
    }
    return c.json({ digest, size: bytes.byteLength });
  });

  app.put("/images/:id", async (c) => {
    const id = digestParam(c, "id");
    if (id instanceof ValidationError) return fail(c, id);
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.byteLength > Limits.maxImageIndexBytes) {
      return fail(c, new ValidationError({ field: "body", message: `an image index holds at most ${Limits.maxImageIndexBytes} bytes (maxImageIndexBytes)` }));
    }
    const actual = await sha256Hex(bytes);
    if (actual !== id) return fail(c, new ValidationError({ field: "body", message: `the index hashes to ${actual}, not ${id}: send its canonical encoding` }));
    const index = decodeImageIndexBytes(bytes, "body");
    if (Result.isFailure(index)) return fail(c, index.failure);
    const missing = await deps.store.missing(imageBlocks(index.success).map((b) => b.digest));
    if (missing.length > 0) {
      return fail(c, new ValidationError({ field: "body", message: `the image names ${missing.length} block(s) the store lacks (first ${missing[0]}): upload them before the index` }));
    }
    await deps.store.put(bytes, id);
    return c.json({ id, entries: index.success.entries.length });
  });

  return app;
};
