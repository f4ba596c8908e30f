import { Hono } from "hono";
import { Effect } from "effect";
import { isBlockDigest, ValidationError } from "@ferry/core";
import type { EdgeEnv } from "../edge-env.ts";
import { runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";
import { forwardToRegion, passJson } from "./secret-routes.ts";

/** A digest from the path, or the 400 that names it (it becomes part of the region's path). */
const digestParam = (value: string | undefined, field: string): Effect.Effect<string, ValidationError> =>
  isBlockDigest(value ?? "")
    ? Effect.succeed(value as string)
    : Effect.fail(new ValidationError({ field, message: `${field}: expected a sha256 digest (64 lowercase hex characters)` }));

/**
 * `/v1/images`: the upload side of the image block store, used by `ferry deploy` after it builds
 * an image, forwarded to a live region (whose store its nodes fetch from):
 * `POST /blocks/missing` `{ digests }` → `{ missing }`, `PUT /blocks/:digest` (raw bytes, checked
 * against the digest), `PUT /:id` (the index, accepted only once every block it names is stored).
 * Blocks are content-addressed and shared by every workspace, so identical files are stored once.
 *
 * @example
 * ```ts
 * app.route("/v1/images", imageRoutes(regions));
 * ```
 */
export const imageRoutes = (regions: RegionClient) => new Hono<EdgeEnv>()
  .post("/blocks/missing", async (c) => {
    const body = await c.req.text();
    return runApi(c, forwardToRegion(c, regions, "/internal/images/blocks/missing", { method: "POST", body }), passJson);
  })
  .put("/blocks/:digest", async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    return runApi(c, Effect.gen(function*() {
      const digest = yield* digestParam(c.req.param("digest"), "digest");
      return yield* forwardToRegion(c, regions, `/internal/blocks/${digest}`, { method: "PUT", body });
    }), passJson);
  })
  .put("/:id", async (c) => {
    const body = new Uint8Array(await c.req.arrayBuffer());
    return runApi(c, Effect.gen(function*() {
      const id = yield* digestParam(c.req.param("id"), "id");
      return yield* forwardToRegion(c, regions, `/internal/images/${id}`, { method: "PUT", body });
    }), passJson);
  });
