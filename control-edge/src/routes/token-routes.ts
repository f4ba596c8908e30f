import { Hono } from "hono";
import { Effect, Schema } from "effect";
import { decodeAt, Limits } from "@ferry/core";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import { errorResponse } from "../http/api-error.ts";
import { readJson, runApi } from "../http/run-api.ts";

const NewToken = Schema.Struct({ name: Schema.optional(Schema.String.check(Schema.isPattern(Limits.namePattern))) });

/** `/v1/tokens`: create (the secret is shown once), list (never secrets), revoke. */
export const tokenRoutes = (deps: EdgeDeps) => new Hono<EdgeEnv>()
  .post("/", async (c) => {
    const body = await readJson(c);
    const decoded = decodeAt(NewToken, body._tag === "Success" ? body.success : undefined, "body");
    if (decoded._tag === "Failure") return errorResponse(c, decoded.failure);
    return runApi(c, deps.storage.createToken(c.get("workspaceId"), decoded.success.name ?? "token"),
      ({ token, secret }) => c.json({ id: token.id, name: token.name, createdAt: token.createdAt, token: secret }, 201));
  })
  .get("/", (c) => runApi(c, deps.storage.listTokens(c.get("workspaceId")), (tokens) => c.json({ tokens })))
  .delete("/:id", (c) => runApi(c, deps.storage.revokeToken(c.get("workspaceId"), c.req.param("id")).pipe(Effect.as({ revoked: true })), (r) => c.json(r)));
