import { Effect, Result } from "effect";
import { resolveFunctionOptions, type FunctionRow } from "@ferry/core";
import type { VolumeStore } from "../volumes/volume-store.ts";
import type { SecretVault } from "./secret-vault.ts";

/** What a container of a function starts with beyond its options. */
export interface ContainerPreparation {
  /** The function's secrets, decrypted: environment variables. Never logged. */
  readonly env: Readonly<Record<string, string>>;
  /** Mount path → volume id. */
  readonly volumes: Readonly<Record<string, string>>;
  /** Why the container cannot be prepared (a secret or volume was deleted since the deploy). */
  readonly error?: string;
}

const NOTHING: ContainerPreparation = { env: {}, volumes: {} };

/**
 * Resolve, at each container start, what its function names: its secrets are read and
 * decrypted into environment variables, its volumes' names become ids the agent can fetch by.
 * A secret or volume deleted since the deploy yields `error`, which names it but never a value.
 *
 * @example
 * ```ts
 * const prepare = prepareContainerStart({ vault, volumes });
 * const { env, volumes, error } = await prepare(fn);
 * ```
 */
export const prepareContainerStart = (deps: { readonly vault: SecretVault; readonly volumes: VolumeStore }) => (fn: FunctionRow): Promise<ContainerPreparation> =>
  prepare(deps, fn).catch((e: unknown) => ({ env: {}, volumes: {}, error: `cannot start ${fn.appName}.${fn.name}: ${(e as Error)?.message ?? "its secrets and volumes could not be read"}` }));

const prepare = async (deps: { readonly vault: SecretVault; readonly volumes: VolumeStore }, fn: FunctionRow): Promise<ContainerPreparation> => {
  const options = resolveFunctionOptions(fn.options);
  const secrets = options.secrets ?? [];
  const mounts = Object.entries(options.volumes ?? {});
  if (secrets.length === 0 && mounts.length === 0) return NOTHING;
  const env = await Effect.runPromise(Effect.result(deps.vault.environment(fn.workspaceId, secrets)));
  if (Result.isFailure(env)) {
    const e = env.failure;
    const why = e._tag === "NotFoundError" ? `secret ${e.id} no longer exists in this workspace: create it again, then retry` : e.message;
    return { env: {}, volumes: {}, error: `cannot start ${fn.appName}.${fn.name}: ${why}` };
  }
  const ids = await Effect.runPromise(Effect.result(deps.volumes.idsByName(fn.workspaceId, mounts.map(([, name]) => name))));
  if (Result.isFailure(ids)) return { env: {}, volumes: {}, error: `cannot start ${fn.appName}.${fn.name}: ${ids.failure.message}` };
  const volumes: Record<string, string> = {};
  for (const [mount, name] of mounts) {
    const id = ids.success.get(name);
    if (!id) return { env: {}, volumes: {}, error: `cannot start ${fn.appName}.${fn.name}: volume ${name} no longer exists in this workspace: create it again, then retry` };
    volumes[mount] = id;
  }
  return { env: env.success, volumes };
};
