import { createClient, type Client } from "@libsql/client/web";
import { failoverClient } from "./libsql-failover.ts";

/** What a remote libSQL client needs: a sqld/Turso database, or a Ferry region's SQL-over-HTTP endpoint. */
export interface RemoteLibsqlOptions {
  /** `libsql://`, `https://` or `http://` URL; several, comma-separated (every region's endpoint), fail over in order. */
  readonly url: string;
  /** Bearer token: a Turso/sqld JWT, or the internal token for a region's endpoint. */
  readonly authToken?: string;
  /** `fetch` used for every request (the global one by default). */
  readonly fetch?: typeof fetch;
}

/**
 * A libSQL client that speaks the network protocol (Hrana over HTTP) with Web APIs only, so it
 * loads on workerd, Bun, Deno and Node alike. It holds no socket between statements: each
 * `execute`/`batch` is one `fetch`, which is what lets a Worker create one per request.
 *
 * @example
 * ```ts
 * const client = openLibsqlRemote({ url: env.DATABASE_URL, authToken: env.DATABASE_TOKEN });
 * const storage = await Effect.runPromise(Effect.provide(Storage.asEffect(), Storage.layerClient(client)));
 * ```
 */
export const openLibsqlRemote = (opts: RemoteLibsqlOptions): Client => {
  const urls = opts.url.split(",").map((u) => u.trim()).filter((u) => u.length > 0);
  for (const url of urls.length > 0 ? urls : [opts.url]) {
    if (!/^(libsql|https?):\/\//.test(url)) {
      throw new Error(`remote libSQL needs a libsql://, https:// or http:// URL, got ${JSON.stringify(url)}; a file: database needs openLibsql from @ferry/core/node`);
    }
  }
  const clients = urls.map((url) => createClient({ url, authToken: opts.authToken, fetch: opts.fetch }));
  return clients.length === 1 ? clients[0]! : failoverClient(clients);
};
