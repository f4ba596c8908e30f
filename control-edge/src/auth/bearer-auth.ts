import type { MiddlewareHandler } from "hono";
import { Effect } from "effect";
import { TtlCache, UnauthorizedError } from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";

const BEARER = /^bearer (fry_[0-9a-f]{48})$/i;
/** A resolved token is trusted this long before libSQL is asked again (bounds revocation delay). */
export const TOKEN_CACHE_MS = 2_000;

/** Require `Authorization: Bearer fry_…` naming a live token; sets the caller's workspace. */
export const bearerAuth = (deps: EdgeDeps): MiddlewareHandler<EdgeEnv> => {
  // `null` remembers an unknown token too, so a flood of bad tokens costs no database reads.
  const cache = new TtlCache<string, { workspaceId: string; tokenId: string } | null>(TOKEN_CACHE_MS);
  return async (c, next) => {
    const match = BEARER.exec(c.req.header("authorization") ?? "");
    if (!match) return errorResponse(c, new UnauthorizedError({ message: "missing or malformed bearer token: send 'Authorization: Bearer fry_…' (ferry token new)" }));
    const secret = match[1];
    let token = cache.get(secret);
    if (token === undefined) {
      token = (await Effect.runPromise(deps.storage.resolveToken(secret))) ?? null;
      cache.set(secret, token);
    }
    if (!token) return errorResponse(c, new UnauthorizedError({ message: "unknown or revoked token" }));
    c.set("workspaceId", token.workspaceId);
    c.set("tokenId", token.tokenId);
    await next();
  };
};
