import { Effect, Schema } from "effect";
import { anonymousSecretName, checkSecretValues, Limits, ValidationError, type ApiError } from "@ferry/core";
import type { VolumeStore } from "../volumes/volume-store.ts";
import type { SecretVault } from "./secret-vault.ts";

/**
 * What a deploy's functions name: each function's `secrets` and `volumes` as the SDK sent them
 * (`Secret.fromName` → a name, `Secret.fromObject` → `{ values }`, `Volume.fromName` → a name or
 * `{ name, createIfMissing }`), with its position in the deploy body for error fields.
 */
export const DeployObjectsRequest = Schema.Struct({
  app: Schema.String,
  mode: Schema.String,
  environment: Schema.String,
  functions: Schema.Array(Schema.Struct({
    index: Schema.Int,
    name: Schema.String,
    secrets: Schema.optional(Schema.Array(Schema.Unknown)),
    volumes: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  })),
});
export type DeployObjectsRequest = typeof DeployObjectsRequest.Type;

/** Each function's secrets and volumes by name only: what the stored manifest carries. */
export interface DeployObjects {
  readonly functions: ReadonlyArray<{ readonly index: number; readonly secrets?: ReadonlyArray<string>; readonly volumes?: Readonly<Record<string, string>> }>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const bad = (field: string, message: string) => new ValidationError({ field, message: `${field}: ${message}` });

/**
 * Check and store what a deploy's functions refer to, before the deploy itself: a named secret
 * or volume must exist in the caller's workspace (another workspace's is simply not found);
 * `Secret.fromObject` values are sealed like any secret, as an app-scoped secret the manifest
 * then names; `createIfMissing` volumes are created. Fails with a 400 naming the field at fault.
 *
 * @example
 * ```ts
 * const r = yield* resolveDeployObjects({ vault, volumes }, ws, { app: "demo", mode: "deployed", environment: "main",
 *   functions: [{ index: 0, name: "f", secrets: ["openai", { values: { K: "v" } }] }] });
 * r.functions[0].secrets; // ["openai", "@deployed/demo/main/f/1"]
 * ```
 */
export const resolveDeployObjects = (
  deps: { readonly vault: SecretVault; readonly volumes: VolumeStore },
  workspaceId: string,
  req: DeployObjectsRequest,
): Effect.Effect<DeployObjects, ApiError> => Effect.gen(function*() {
  const out: Array<DeployObjects["functions"][number]> = [];
  for (const fn of req.functions) {
    const root = `body.functions[${fn.index}].options`;
    let secrets: string[] | undefined;
    if (fn.secrets) {
      if (fn.secrets.length > Limits.maxSecretsPerFunction) return yield* bad(`${root}.secrets`, `at most ${Limits.maxSecretsPerFunction} secrets per function (maxSecretsPerFunction)`);
      secrets = [];
      for (const [j, s] of fn.secrets.entries()) {
        const field = `${root}.secrets[${j}]`;
        if (typeof s === "string") {
          const [missing] = yield* deps.vault.missing(workspaceId, [s]);
          if (missing !== undefined) return yield* bad(field, `secret ${s} not found in this workspace: create it with \`ferry secret create ${s} KEY=…\``);
          secrets.push(s);
        } else if (isRecord(s) && isRecord(s.values)) {
          const problem = checkSecretValues(s.values, `${field}.values`);
          if (problem) return yield* new ValidationError(problem);
          const name = anonymousSecretName({ mode: req.mode, app: req.app, environment: req.environment, fn: fn.name, index: j });
          yield* deps.vault.put(workspaceId, name, s.values as Record<string, string>, { overwrite: true, anonymous: true });
          secrets.push(name);
        } else {
          return yield* bad(field, "expected Secret.fromName(name) or Secret.fromObject({ KEY: \"value\" })");
        }
      }
    }
    let volumes: Record<string, string> | undefined;
    if (fn.volumes) {
      volumes = {};
      for (const [mount, v] of Object.entries(fn.volumes)) {
        const field = `${root}.volumes.${mount}`;
        const name = typeof v === "string" ? v : isRecord(v) && typeof v.name === "string" ? v.name : undefined;
        if (name === undefined || !Limits.namePattern.test(name)) return yield* bad(field, "expected Volume.fromName(name) with a name of letters, digits, '_' and '-'");
        // One mount per volume: a container's commit() and reload() then name exactly one directory.
        if (Object.values(volumes).includes(name)) return yield* bad(field, `volume ${name} is already mounted by this function; mount each volume once`);
        if (isRecord(v) && v.createIfMissing === true) yield* deps.volumes.create(workspaceId, name, { ifMissing: true });
        else if (!(yield* deps.volumes.idsByName(workspaceId, [name])).has(name)) {
          return yield* bad(field, `volume ${name} not found in this workspace: create it with \`ferry volume create ${name}\`, or use Volume.fromName("${name}", { createIfMissing: true })`);
        }
        volumes[mount] = name;
      }
    }
    out.push({ index: fn.index, ...(secrets ? { secrets } : {}), ...(volumes ? { volumes } : {}) });
  }
  return { functions: out };
});
