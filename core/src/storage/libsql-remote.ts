import { createClient, type Client } from "@libsql/client/web";

/** What a remote libSQL client needs: a sqld/Turso database, or a Ferry region's SQL-over-HTTP endpoint. */
export interface RemoteLibsqlOptions {
  /** `libsql://`, `https://` or `http://` URL. */
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
  if (!/^(libsql|https?):\/\//.test(opts.url)) {
    throw new Error(`remote libSQL needs a libsql://, https:// or http:// URL, got ${JSON.stringify(opts.url)}; a file: database needs openLibsql from @ferry/core/node`);
  }
  return createClient({ url: opts.url, authToken: opts.authToken, fetch: opts.fetch });
};
