import { createClient, type Client } from "@libsql/client";

/**
 * A libSQL client for an embedded `file:` database (WAL, so edge, region and agents in separate
 * processes share it) or any `libsql://`/`http(s)://` URL of sqld or Turso.
 *
 * @example
 * ```ts
 * const client = await openLibsql("file:/var/lib/ferry/state.db");
 * ```
 */
export const openLibsql = async (url: string, authToken?: string): Promise<Client> => {
  const client = createClient({ url, authToken });
  if (url.startsWith("file:")) {
    await client.execute("PRAGMA journal_mode = WAL");
    await client.execute("PRAGMA busy_timeout = 5000");
    await client.execute("PRAGMA synchronous = NORMAL");
  }
  return client;
};
