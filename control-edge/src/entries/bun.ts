import { openLibsqlRemote } from "@ferry/core";
import { makeEdgeApp } from "../edge-app.ts";
import { listeningLine, readEdgeConfig } from "./edge-config.ts";
import { storageOver } from "./storage-over.ts";

/** The part of Bun's API this entry uses (no `@types/bun` needed). */
declare const Bun: {
  serve(options: { hostname: string; port: number; idleTimeout?: number; fetch(request: Request): Response | Promise<Response> }): { readonly url: URL };
};

/**
 * The edge on Bun: the same app as on Node and Workers, platform state over libSQL's network
 * protocol (Web APIs only).
 *
 * @example
 * ```sh
 * DATABASE_URL=http://127.0.0.1:7001 DATABASE_TOKEN=$INTERNAL_TOKEN INTERNAL_TOKEN=… bunx bun control-edge/src/entries/bun.ts
 * ```
 */
const config = readEdgeConfig(process.env);
const storage = await storageOver(openLibsqlRemote({ url: config.databaseUrl, authToken: config.databaseToken }));
const app = makeEdgeApp({ storage, internalToken: config.internalToken });
// Calls wait up to `Limits.maxWaitMs` for outputs: no idle cut-off on a request (0 = none).
const server = Bun.serve({ hostname: config.host, port: config.port, idleTimeout: 0, fetch: app.fetch });
console.log(listeningLine("bun", server.url.origin));
