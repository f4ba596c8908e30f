import { Hono, type Context } from "hono";
import { Effect } from "effect";
import { NotFoundError } from "@ferry/core";
import type { EdgeEnv } from "../edge-env.ts";
import { runApi } from "../http/run-api.ts";
import type { RegionClient } from "../regions/region-client.ts";
import { forwardToRegion, objectName, passJson } from "./secret-routes.ts";

/** Header carrying the volume version a file was read from. */
const VOLUME_VERSION_HEADER = "x-ferry-volume-version";

/**
 * `/v1/volumes`: create, list, inspect and delete the caller's volumes, and their data plane
 * (directory listings, file reads streamed from the region, block uploads and commits, removals),
 * each forwarded to a live region within the caller's workspace.
 */
export const volumeRoutes = (regions: RegionClient) => {
  const at = (c: Context<EdgeEnv>, suffix: string, init: RequestInit = {}, query: Record<string, string | undefined> = {}) =>
    Effect.gen(function*() {
      const name = yield* objectName("volume", c.req.param("name") ?? "");
      return yield* forwardToRegion(c, regions, `/internal/volumes/${name}${suffix}`, init, query);
    });
  return new Hono<EdgeEnv>()
    .get("/", (c) => runApi(c, forwardToRegion(c, regions, "/internal/volumes"), passJson))
    .post("/", async (c) => {
      const body = await c.req.text();
      return runApi(c, forwardToRegion(c, regions, "/internal/volumes", { method: "POST", body }), passJson);
    })
    .get("/:name", (c) => runApi(c, at(c, ""), passJson))
    .delete("/:name", (c) => runApi(c, at(c, "", { method: "DELETE" }), passJson))
    .get("/:name/list", (c) => runApi(c, at(c, "/list", {}, { dir: c.req.query("dir") }), passJson))
    .get("/:name/file", (c) => runApi(c, at(c, "/file", {}, { path: c.req.query("path") }), (upstream) => {
      if (!upstream.ok) return passJson(upstream);
      const headers = new Headers({ "content-type": "application/octet-stream" });
      for (const h of ["content-length", VOLUME_VERSION_HEADER]) {
        const v = upstream.headers.get(h);
        if (v !== null) headers.set(h, v);
      }
      return new Response(upstream.body, { status: 200, headers });
    }))
    .post("/:name/blocks/missing", async (c) => {
      const body = await c.req.text();
      return runApi(c, at(c, "/blocks/missing", { method: "POST", body }), passJson);
    })
    .put("/:name/blocks/:digest", async (c) => {
      const body = new Uint8Array(await c.req.arrayBuffer());
      const digest = c.req.param("digest");
      return runApi(c, Effect.gen(function*() {
        // The digest becomes part of the region's path: only a hex digest may pass.
        if (!/^[0-9a-f]{64}$/.test(digest)) return yield* new NotFoundError({ kind: "block", id: digest });
        return yield* at(c, `/blocks/${digest}`, { method: "PUT", body });
      }), passJson);
    })
    .post("/:name/commit", async (c) => {
      const body = await c.req.text();
      return runApi(c, at(c, "/commit", { method: "POST", body }), passJson);
    })
    .delete("/:name/files", (c) => runApi(c, at(c, "/files", { method: "DELETE" }, { path: c.req.query("path") }), passJson));
};
