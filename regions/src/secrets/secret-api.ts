import { Hono } from "hono";
import { Effect, Schema } from "effect";
import { AppName, checkSecretValues, decodeAt, ValidationError } from "@ferry/core";
import type { VolumeStore } from "../volumes/volume-store.ts";
import { answer, jsonBody, workspaceOf } from "./answer.ts";
import { resolveDeployObjects, DeployObjectsRequest } from "./resolve-deploy-objects.ts";
import type { SecretVault } from "./secret-vault.ts";

const CreateSecret = Schema.Struct({
  name: AppName,
  /** Checked by `checkSecretValues`, whose messages never repeat a value. */
  values: Schema.Record(Schema.String, Schema.Unknown),
  /** Replace the variables of an existing secret of that name (`--force`). */
  overwrite: Schema.optional(Schema.Boolean),
});

/**
 * The region's internal secret routes, called by the edge for an authenticated workspace:
 * create (sealing the values), list (names and variable names only), delete, and the check a
 * deploy runs on the secrets and volumes its functions name (`/deploy-objects`).
 */
export const secretApi = (deps: { readonly vault: SecretVault; readonly volumes: VolumeStore }) => new Hono()
  .get("/secrets", (c) => answer(c, Effect.gen(function*() {
    return yield* deps.vault.list(yield* workspaceOf(c));
  }), (secrets) => c.json({ secrets })))
  .post("/secrets", (c) => answer(c, Effect.gen(function*() {
    const ws = yield* workspaceOf(c);
    const req = yield* Effect.fromResult(decodeAt(CreateSecret, yield* jsonBody(c), "body"));
    const problem = checkSecretValues(req.values, "body.values");
    if (problem) return yield* new ValidationError(problem);
    return yield* deps.vault.put(ws, req.name, req.values as Record<string, string>, { overwrite: req.overwrite ?? false });
  }), (secret) => c.json(secret, 201)))
  .delete("/secrets/:name", (c) => answer(c, Effect.gen(function*() {
    yield* deps.vault.remove(yield* workspaceOf(c), c.req.param("name"));
    return { deleted: c.req.param("name") };
  }), (r) => c.json(r)))
  .post("/deploy-objects", (c) => answer(c, Effect.gen(function*() {
    const ws = yield* workspaceOf(c);
    const req = yield* Effect.fromResult(decodeAt(DeployObjectsRequest, yield* jsonBody(c), "body"));
    return yield* resolveDeployObjects(deps, ws, req);
  }), (r) => c.json(r)));
