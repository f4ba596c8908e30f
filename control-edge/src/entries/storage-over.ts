import { Storage } from "@ferry/core";
import type { Client } from "@libsql/client/web";
import { Effect } from "effect";

/**
 * Platform storage over an open libSQL client (pending migrations applied first): what every
 * edge entry builds, once per process on Node, Bun and Deno, once per request on workerd.
 *
 * @example
 * ```ts
 * const storage = await storageOver(openLibsqlRemote({ url, authToken }));
 * const app = makeEdgeApp({ storage, internalToken });
 * ```
 */
export const storageOver = (client: Client): Promise<Storage["Service"]> =>
  Effect.runPromise(Effect.gen(function*() {
    return yield* Storage;
  }).pipe(Effect.provide(Storage.layerClient(client))));
