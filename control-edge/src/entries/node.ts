import { openLibsqlRemote } from "@ferry/core";
import { listenHttp, openLibsql } from "@ferry/core/node";
import { makeEdgeApp } from "../edge-app.ts";
import { listeningLine, readEdgeConfig } from "./edge-config.ts";
import { storageOver } from "./storage-over.ts";

/**
 * The edge on Node as a process: settings from the environment (see `readEdgeConfig`), platform
 * state from a `file:` database or over the network (a region's endpoint, sqld, Turso).
 *
 * @example
 * ```sh
 * DATABASE_URL=http://127.0.0.1:7001 DATABASE_TOKEN=$INTERNAL_TOKEN INTERNAL_TOKEN=… PORT=8787 node control-edge/src/entries/node.ts
 * ```
 */
const config = readEdgeConfig(process.env);
const client = config.databaseUrl.startsWith("file:")
  ? await openLibsql(config.databaseUrl)
  : openLibsqlRemote({ url: config.databaseUrl, authToken: config.databaseToken });
const app = makeEdgeApp({ storage: await storageOver(client), internalToken: config.internalToken });
const http = await listenHttp(app.fetch, config.host, config.port);
console.log(listeningLine("node", http.url));
const stop = () => void http.close().finally(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
