import type { Client, InArgs, InStatement, TransactionMode } from "@libsql/client";

/** Whether an error means the database did not answer (so another copy may), not that the SQL failed. */
export const isUnreachableError = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && code.startsWith("SQLITE_")) return false;
  const text = `${String(e)} ${String((e as { cause?: unknown } | undefined)?.cause ?? "")}`;
  return /fetch failed|ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|network|Unable to connect|connection/i.test(text);
};

/**
 * One `Client` over several copies of the same database (e.g. every region's SQL endpoint, each a
 * replica of the replicated state): statements go to the current copy; when it does not answer,
 * to the next, which becomes current. SQL errors are never retried elsewhere.
 *
 * @example
 * ```ts
 * const client = failoverClient([openRemote("https://us-east…"), openRemote("https://eu-west…")]);
 * ```
 */
export const failoverClient = (clients: ReadonlyArray<Client>): Client => {
  if (clients.length === 0) throw new Error("failoverClient needs at least one client");
  let current = 0;
  const attempt = async <T>(run: (c: Client) => Promise<T>): Promise<T> => {
    let last: unknown;
    for (let tried = 0; tried < clients.length; tried++) {
      const i = (current + tried) % clients.length;
      try {
        const out = await run(clients[i]!);
        current = i;
        return out;
      } catch (e) {
        if (!isUnreachableError(e)) throw e;
        last = e;
      }
    }
    throw last;
  };
  const first = clients[0]!;
  return {
    execute: (stmt: InStatement | string, args?: InArgs) => attempt((c) => (typeof stmt === "string" ? c.execute(stmt, args) : c.execute(stmt))),
    batch: (stmts: Array<InStatement | [string, InArgs?]>, mode?: TransactionMode) => attempt((c) => c.batch(stmts, mode)),
    migrate: (stmts: Array<InStatement>) => attempt((c) => c.migrate(stmts)),
    transaction: (mode?: TransactionMode) => attempt((c) => c.transaction(mode)),
    executeMultiple: (sql: string) => attempt((c) => c.executeMultiple(sql)),
    sync: () => attempt((c) => c.sync()),
    close: () => clients.forEach((c) => c.close()),
    reconnect: () => clients.forEach((c) => c.reconnect()),
    get closed() {
      return first.closed;
    },
    get protocol() {
      return first.protocol;
    },
  } as Client;
};
