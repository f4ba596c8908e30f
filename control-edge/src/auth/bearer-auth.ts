import type { MiddlewareHandler } from "hono";
import { Effect } from "effect";
import { UnauthorizedError } from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { TokenCache } from "./token-cache.ts";

const BEARER = /^bearer (fry_[0-9a-f]{48})$/i;

/** Require `Authorization: Bearer fry_…` naming a live token; sets the caller's workspace. */
export const bearerAuth = (deps: EdgeDeps): MiddlewareHandler<EdgeEnv> => {
  const cache = new TokenCache();
  return async (c, next) => {
    const match = BEARER.exec(c.req.header("authorization") ?? "");
    if (!match) return errorResponse(c, new UnauthorizedError({ message: "missing or malformed bearer token: send 'Authorization: Bearer fry_…' (ferry token new)" }));
    const secret = match[1];
    let hit = cache.get(secret);
    if (!hit) {
      const resolved = await Effect.runPromise(deps.storage.resolveToken(secret));
      hit = { workspaceId: resolved?.workspaceId };
      cache.set(secret, hit.workspaceId);
      if (resolved) c.set("tokenId", resolved.tokenId);
    }
    if (!hit.workspaceId) return errorResponse(c, new UnauthorizedError({ message: "unknown or revoked token" }));
    c.set("workspaceId", hit.workspaceId);
    await next();
  };
};
