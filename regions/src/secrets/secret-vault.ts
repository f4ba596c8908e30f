import type { Client, InArgs, Row } from "@libsql/client";
import { Effect } from "effect";
import { ConflictError, newId, NotFoundError, SecretKey, StorageError, UnavailableError } from "@ferry/core";

/** A secret as listed: its name and variable names, never the values. */
export interface SecretInfo {
  readonly name: string;
  readonly keys: ReadonlyArray<string>;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** The authenticated context a secret is sealed under: its workspace and name. */
const contextOf = (workspaceId: string, name: string) => `ferry-secret/${workspaceId}/${name}`;

const toInfo = (r: Row): SecretInfo => ({
  name: String(r.name), keys: JSON.parse(String(r.keys)) as string[], createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});

/**
 * Secrets in libSQL, sealed at rest with AES-256-GCM under the platform key (`SecretKey`): the
 * variables of a secret are one sealed JSON object bound to its workspace and name; only the
 * variable names are stored in the clear, for listing. Values leave the vault only decrypted into
 * a container's environment (`environment`), never through a listing or an error message.
 * Without a key the vault still lists and deletes, but cannot store or read values.
 *
 * @example
 * ```ts
 * const vault = new SecretVault(client, await SecretKey.fromBase64(process.env.FERRY_SECRET_KEY!));
 * await Effect.runPromise(vault.put(ws, "openai", { OPENAI_API_KEY: "sk-…" }, { overwrite: false }));
 * await Effect.runPromise(vault.environment(ws, ["openai"])); // { OPENAI_API_KEY: "sk-…" }
 * ```
 */
export class SecretVault {
  private readonly client: Client;
  private readonly key: SecretKey | undefined;

  constructor(client: Client, key: SecretKey | undefined) {
    this.client = client;
    this.key = key;
  }

  private run(operation: string, sql: string, args: InArgs = []) {
    return Effect.tryPromise({ try: () => this.client.execute({ sql, args }), catch: (cause) => new StorageError({ operation, cause }) });
  }

  private requireKey(): Effect.Effect<SecretKey, UnavailableError> {
    return this.key
      ? Effect.succeed(this.key)
      : Effect.fail(new UnavailableError({ message: "this region has no FERRY_SECRET_KEY, so it cannot store or read secrets: start it with the platform key (the same on every region)" }));
  }

  /** Store a secret's variables, sealed; an existing name is replaced only with `overwrite`. */
  put = Effect.fn("SecretVault.put")(function*(this: SecretVault, workspaceId: string, name: string, values: Readonly<Record<string, string>>, opts: { readonly overwrite: boolean; readonly anonymous?: boolean }) {
    const key = yield* this.requireKey();
    const sealed = yield* Effect.promise(() => key.seal(JSON.stringify(values), contextOf(workspaceId, name)));
    const keys = JSON.stringify(Object.keys(values).sort());
    const now = Date.now();
    const rs = yield* this.run("putSecret",
      `INSERT INTO secrets (id, workspace_id, name, keys, sealed, key_id, anonymous, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(workspace_id, name) DO ${opts.overwrite ? "UPDATE SET keys = excluded.keys, sealed = excluded.sealed, key_id = excluded.key_id, updated_at = excluded.updated_at" : "NOTHING"}`,
      [newId("se"), workspaceId, name, keys, sealed, key.id, opts.anonymous ? 1 : 0, now, now]);
    if (rs.rowsAffected === 0) return yield* new ConflictError({ message: `secret ${name} already exists: pass --force (overwrite: true) to replace its variables` });
    const row = (yield* this.run("putSecret", "SELECT name, keys, created_at, updated_at FROM secrets WHERE workspace_id = ? AND name = ?", [workspaceId, name])).rows[0];
    return toInfo(row!);
  });

  /** The workspace's named secrets (not the app-scoped ones of `Secret.fromObject`), by name. */
  list = Effect.fn("SecretVault.list")(function*(this: SecretVault, workspaceId: string) {
    const rs = yield* this.run("listSecrets", "SELECT name, keys, created_at, updated_at FROM secrets WHERE workspace_id = ? AND anonymous = 0 ORDER BY name", [workspaceId]);
    return rs.rows.map(toInfo);
  });

  /** Delete a secret; containers already started keep the variables they were given. */
  remove = Effect.fn("SecretVault.remove")(function*(this: SecretVault, workspaceId: string, name: string) {
    const rs = yield* this.run("deleteSecret", "DELETE FROM secrets WHERE workspace_id = ? AND name = ?", [workspaceId, name]);
    if (rs.rowsAffected === 0) return yield* new NotFoundError({ kind: "secret", id: name });
  });

  /** Which of `names` the workspace has no secret by. */
  missing = Effect.fn("SecretVault.missing")(function*(this: SecretVault, workspaceId: string, names: ReadonlyArray<string>) {
    if (names.length === 0) return [];
    const unique = [...new Set(names)];
    const rs = yield* this.run("findSecrets", `SELECT name FROM secrets WHERE workspace_id = ? AND name IN (${unique.map(() => "?").join(",")})`, [workspaceId, ...unique]);
    const found = new Set(rs.rows.map((r) => String(r.name)));
    return unique.filter((n) => !found.has(n));
  });

  /**
   * The variables of `names`, decrypted and merged in order (a later secret wins): a container's
   * environment. Fails naming the first missing secret, never a value.
   */
  environment = Effect.fn("SecretVault.environment")(function*(this: SecretVault, workspaceId: string, names: ReadonlyArray<string>) {
    const env: Record<string, string> = {};
    if (names.length === 0) return env;
    const key = yield* this.requireKey();
    const unique = [...new Set(names)];
    const rs = yield* this.run("readSecrets", `SELECT name, sealed FROM secrets WHERE workspace_id = ? AND name IN (${unique.map(() => "?").join(",")})`, [workspaceId, ...unique]);
    const sealed = new Map(rs.rows.map((r) => [String(r.name), String(r.sealed)]));
    for (const name of names) {
      const s = sealed.get(name);
      if (s === undefined) return yield* new NotFoundError({ kind: "secret", id: name });
      const opened = yield* Effect.tryPromise({
        try: () => key.open(s, contextOf(workspaceId, name)),
        catch: (e) => new UnavailableError({ message: `secret ${name} cannot be decrypted: ${(e as Error).message}` }),
      });
      // JSON.parse errors quote their input: never let one carry a value.
      const vars = yield* Effect.try({ try: () => JSON.parse(opened) as Record<string, string>, catch: () => new UnavailableError({ message: `secret ${name} holds malformed data` }) });
      Object.assign(env, vars);
    }
    return env;
  });
}
