import { errorBody, openLibsqlRemote, UnavailableError } from "@ferry/core";
import { makeEdgeApp } from "../edge-app.ts";
import { storageOver } from "./storage-over.ts";

/** A Worker's bindings (wrangler.toml `[vars]` and secrets). */
export interface WorkerBindings {
  readonly DATABASE_URL: string;
  readonly DATABASE_TOKEN?: string;
  readonly INTERNAL_TOKEN: string;
}

/**
 * The edge on Cloudflare Workers (workerd). Each request opens its own libSQL client over HTTP
 * and its own app: Workers forbid I/O objects shared across requests, and the client holds no
 * socket anyway (each statement is one `fetch`).
 *
 * @example
 * ```sh
 * npx wrangler dev --config control-edge/wrangler.toml --var DATABASE_URL:http://127.0.0.1:7000 …
 * ```
 */
export default {
  async fetch(request: Request, env: WorkerBindings): Promise<Response> {
    if (!env.DATABASE_URL || !env.INTERNAL_TOKEN) {
      return Response.json({ error: { type: "InternalError", message: "the edge needs DATABASE_URL and INTERNAL_TOKEN bindings: set them in wrangler.toml [vars] or with `wrangler secret put`" } }, { status: 500 });
    }
    const storage = await Promise.resolve()
      .then(() => storageOver(openLibsqlRemote({ url: env.DATABASE_URL, authToken: env.DATABASE_TOKEN })))
      .catch((e: unknown) => e instanceof Error ? e : new Error(String(e)));
    if (storage instanceof Error) {
      return Response.json(errorBody(new UnavailableError({ message: `platform state unreachable at DATABASE_URL: ${storage.message}` })), { status: 503 });
    }
    // workerd refuses `fetch` called as a method of another object ("Illegal invocation"), which is
    // how the region client holds it: hand it a plain function.
    return makeEdgeApp({ storage, internalToken: env.INTERNAL_TOKEN, fetch: (input, init) => fetch(input, init) }).fetch(request);
  },
};
