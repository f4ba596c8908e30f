import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { Result } from "effect";
import { decodeAt, Limits } from "@ferry/core";
import { HranaBatons } from "./hrana-batons.ts";
import { HranaErrorCodes } from "./hrana-errors.ts";
import { HranaPipelineRequest, type HranaError, type HranaPipelineResponse, type HranaStreamResult } from "./hrana-messages.ts";
import { HranaStream } from "./hrana-stream.ts";
import type { SqlExecutor } from "./sql-executor.ts";

export interface SqlHttpOptions {
  readonly executor: SqlExecutor;
  /** The bearer token clients must send (a region serves its internal token). */
  readonly authToken: string;
  /** Default `Limits.maxSqlStreams`. */
  readonly maxStreams?: number;
  /** Default `Limits.sqlStreamIdleMs`. */
  readonly streamIdleMs?: number;
  /** Default `Limits.maxSqlStoredPerStream`. */
  readonly maxStoredSqlPerStream?: number;
  /** Default `Limits.maxSqlPipelineBodyBytes`. */
  readonly maxBodyBytes?: number;
  /** Clock, for tests of idle expiry. */
  readonly now?: () => number;
}

const protoError = (c: Context, status: 400 | 401 | 404 | 413 | 503, error: HranaError) => c.json(error, status);

/**
 * libSQL's remote protocol (Hrana over HTTP, v2 JSON: `GET /v2`, `POST /v2/pipeline`) over a
 * `SqlExecutor`, so any libSQL client (`@libsql/client/web` on a Worker, Bun, Deno) can use the
 * platform state a region holds: `createClient({ url: regionUrl, authToken })`. Statements run one
 * by one and a client's `batch` runs as one executor batch (atomic); streams hold no transaction
 * open between requests, so interactive transactions are refused with `NOT_SUPPORTED`.
 *
 * @example
 * ```ts
 * regionApp.route("/", sqlHttpRoutes({ executor: client, authToken: internalToken }));
 * const remote = createClient({ url: regionUrl, authToken: internalToken }); // @libsql/client/web
 * ```
 */
export const sqlHttpRoutes = (opts: SqlHttpOptions) => {
  const batons = new HranaBatons({ maxStreams: opts.maxStreams ?? Limits.maxSqlStreams, idleMs: opts.streamIdleMs ?? Limits.sqlStreamIdleMs, now: opts.now });
  const maxStoredSql = opts.maxStoredSqlPerStream ?? Limits.maxSqlStoredPerStream;
  const maxBodyBytes = opts.maxBodyBytes ?? Limits.maxSqlPipelineBodyBytes;
  const app = new Hono();
  const authorize = async (c: Context, next: () => Promise<void>) => {
    if (c.req.header("authorization") !== `Bearer ${opts.authToken}`) {
      return protoError(c, 401, { code: HranaErrorCodes.unauthorized, message: "missing or wrong bearer token: use the platform's internal token as the database auth token" });
    }
    await next();
  };
  app.use("/v2", authorize);
  app.use("/v2/*", authorize);
  // The client's version probe: this endpoint speaks v2 (a v3 probe gets 404 and falls back).
  app.get("/v2", (c) => c.body(null, 200));
  app.post("/v2/pipeline", bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) => protoError(c, 413, { code: HranaErrorCodes.tooLarge, message: `pipeline body over ${maxBodyBytes} bytes (maxSqlPipelineBodyBytes)` }),
  }), async (c) => {
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      return protoError(c, 400, { code: HranaErrorCodes.protocol, message: "the pipeline body is not JSON" });
    }
    const decoded = decodeAt(HranaPipelineRequest, json, "body");
    if (Result.isFailure(decoded)) return protoError(c, 400, { code: HranaErrorCodes.protocol, message: decoded.failure.message });
    const { baton, requests } = decoded.success;
    const closes = requests.some((r) => r.type === "close");
    let stream: HranaStream;
    let held = false;
    if (baton !== undefined && baton !== null) {
      const found = batons.take(baton);
      if (found === undefined) return protoError(c, 400, { code: HranaErrorCodes.streamExpired, message: "the baton names no open stream (used already, or idle too long): open a new stream" });
      stream = found;
      held = true;
    } else {
      if (!closes) {
        if (!batons.reserve()) return protoError(c, 503, { code: HranaErrorCodes.tooManyStreams, message: `${batons.size} SQL streams are open (maxSqlStreams): close streams, or retry later` });
        held = true;
      }
      stream = new HranaStream(opts.executor, maxStoredSql, opts.now?.());
    }
    const results: HranaStreamResult[] = [];
    try {
      for (const req of requests) results.push(await stream.run(req));
    } catch (e) {
      if (held) batons.release();
      throw e;
    }
    let next: string | null = null;
    if (held && stream.closed) batons.release();
    else if (held) next = batons.park(stream);
    const body: HranaPipelineResponse = { baton: next, base_url: null, results };
    return c.json(body);
  });
  return app;
};
