import { openLibsqlRemote } from "@ferry/core";
import { makeEdgeApp } from "../edge-app.ts";
import { listeningLine, readEdgeConfig } from "./edge-config.ts";
import { storageOver } from "./storage-over.ts";

/** The part of Deno's API this entry uses (no Deno types needed). */
declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(
    options: { hostname: string; port: number; onListen(addr: { hostname: string; port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { readonly finished: Promise<void> };
};

/**
 * The edge on Deno: the same app as on Node and Workers, platform state over libSQL's network
 * protocol (Web APIs only). Needs `--allow-net --allow-env --allow-read`.
 *
 * @example
 * ```sh
 * DATABASE_URL=http://127.0.0.1:7001 DATABASE_TOKEN=$INTERNAL_TOKEN INTERNAL_TOKEN=… npx deno run --allow-net --allow-env --allow-read control-edge/src/entries/deno.ts
 * ```
 */
const config = readEdgeConfig(Deno.env.toObject());
const storage = await storageOver(openLibsqlRemote({ url: config.databaseUrl, authToken: config.databaseToken }));
const app = makeEdgeApp({ storage, internalToken: config.internalToken });
Deno.serve({
  hostname: config.host,
  port: config.port,
  onListen: (addr) => console.log(listeningLine("deno", `http://${addr.hostname}:${addr.port}`)),
}, app.fetch);
