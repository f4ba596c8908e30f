import type { Client } from "@libsql/client";
import { Storage } from "@ferry/core";
import { listenHttp, openLibsql } from "@ferry/core/node";
import { Effect } from "effect";
import { makeEdgeApp } from "./edge-app.ts";

export interface EdgeServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly databaseUrl: string;
  readonly internalToken: string;
  /** A state client to use instead of opening `databaseUrl` (a replica of the replicated state); the caller closes it. */
  readonly client?: Client;
  /** The replicated state's sequence this edge has applied, sent to regions for read-your-writes. */
  readonly stateSeq?: () => number;
}

/** Serve the edge on Node (the same app runs on Bun, Deno and Workers). */
export const startEdgeServer = async (opts: EdgeServerOptions): Promise<{ url: string; storage: Storage["Service"]; close(): Promise<void> }> => {
  const client = opts.client ?? await openLibsql(opts.databaseUrl);
  const storage = await Effect.runPromise(Effect.gen(function*() {
    return yield* Storage;
  }).pipe(Effect.provide(Storage.layerClient(client))));
  const app = makeEdgeApp({ storage, internalToken: opts.internalToken, stateSeq: opts.stateSeq });
  const http = await listenHttp(app.fetch, opts.host, opts.port);
  return {
    url: http.url,
    storage,
    close: async () => {
      await http.close();
      if (opts.client === undefined) client.close();
    },
  };
};
