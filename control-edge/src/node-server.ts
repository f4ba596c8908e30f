import { serve, type ServerType } from "@hono/node-server";
import { Storage } from "@ferry/core";
import { openLibsql } from "@ferry/core/node";
import { Effect } from "effect";
import { makeEdgeApp } from "./edge-app.ts";

export interface EdgeServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly databaseUrl: string;
  readonly internalToken: string;
}

/** Serve the edge on Node (the same app runs on Bun, Deno and Workers). */
export const startEdgeServer = async (opts: EdgeServerOptions): Promise<{ url: string; storage: Storage["Service"]; close(): Promise<void> }> => {
  const client = await openLibsql(opts.databaseUrl);
  const storage = await Effect.runPromise(Effect.gen(function*() {
    return yield* Storage;
  }).pipe(Effect.provide(Storage.layerClient(client))));
  const app = makeEdgeApp({ storage, internalToken: opts.internalToken });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: opts.host, port: opts.port }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  return {
    url: `http://${opts.host}:${port}`,
    storage,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections (the edge's pooled fetches) would hold close() open otherwise.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      client.close();
    },
  };
};
