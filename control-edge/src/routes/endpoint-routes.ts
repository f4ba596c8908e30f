// Web endpoints through the edge: `/<workspace>/<app>/<function>/…` (outside `/v1` and its auth).
//
// Design. An endpoint request is an input of its function, so it is queued, placed and scaled
// from zero like any call; only its bodies take another road, and always as streams:
//
//   client ─HTTP─▶ edge ─HTTP (head line + body stream)─▶ region ─JetStream input─▶ container
//                                        ▲   ▲                                         │
//                                        │   └── body pieces: NATS request/reply ◀─────┤ (agent ⇄ runner over fd 3)
//                                        └────── response parts: NATS request/reply ◀──┘
//
// The edge resolves the function, checks method, path and token, picks the region with
// `RegionClient.pick`, and forwards the request as one streamed POST to the region's internal
// API: a JSON head line (method, URL, headers), then the client's body bytes. The region
// queues the input with the head (a small body announced by Content-Length rides inline) and
// answers with the handler's response as it streams in. The container's agent pulls request
// body pieces on `ferry.ep.<request>.body` and sends response parts (head, chunks, end) on
// `ferry.ep.<request>.res`; each hop waits for the next one's answer before sending more, so no
// process holds more than a piece (`Limits.endpointBodyChunkBytes`) of a body however large, and
// a slow client slows the handler. The handler's time to its response head is bounded by the
// function's timeout (504); a stream idle for `endpointIdleStreamTimeoutMs` is cut.
//
// That is the road of a request no running container can take now (scale from zero, every slot
// busy). A warm request takes the fast path instead (see `FastPath`): straight from the edge to an
// agent running the function, over one persistent connection per agent, as frames of a stream of
// its own, with the same limits, streaming and backpressure:
//
//   client ─HTTP─▶ edge ─TCP frames (multiplexed)─▶ agent ─fd 3─▶ runner
//
// A request may pin its region with `x-ferry-region` (see `regionsForRequest`).
import { Hono, type Context } from "hono";
import { Effect } from "effect";
import { concatBytes, Limits, resolveEndpoint, resolveFunctionOptions, StorageError, TtlCache, type FunctionRow, type RegionRow } from "@ferry/core";
import { TOKEN_CACHE_MS } from "../auth/bearer-auth.ts";
import type { EdgeDeps, EdgeEnv } from "../edge-env.ts";
import type { RegionClient } from "../regions/region-client.ts";
import { regionsForRequest } from "../regions/pinned-region.ts";
import { ENDPOINT_TOKEN, resolveEndpointToken } from "./endpoint-tokens.ts";
import { ClientBody } from "./endpoint-client-body.ts";
import { FastPath } from "./endpoint-fast-path.ts";
import { clientHead, HOP_HEADERS } from "./endpoint-client-head.ts";

/** How long the region picked for a set of allowed regions is reused. */
const REGION_PICK_CACHE_MS = 250;
/** How long a resolved workspace, function or token is reused before libSQL is asked again. */
const LOOKUP_CACHE_MS = 1_000;
const API_TOKEN = /^fry_[0-9a-f]{48}$/;
const BEARER = /^bearer\s+(\S+)$/i;
/** The region passes a handler's `content-encoding` under this name, which its own fetch leaves alone. */
const CONTENT_ENCODING_RELAY = "x-ferry-content-encoding";
const utf8 = new TextEncoder();

const answer = (c: Context, status: 400 | 401 | 404 | 405 | 413 | 500 | 503, type: string, message: string, headers: Record<string, string> = {}) =>
  c.json({ error: { type, message } }, status, headers);

type Lookup = { readonly fn: FunctionRow } | { readonly missing: string };

/** Resolved options per function row (rows are cached, so this resolves each deploy's once). */
const resolved = new WeakMap<FunctionRow, ReturnType<typeof resolveFunctionOptions>>();
const optionsOf = (fn: FunctionRow) => {
  let o = resolved.get(fn);
  if (!o) resolved.set(fn, (o = resolveFunctionOptions(fn.options)));
  return o;
};
type TokenGrant = { readonly workspaceId: string; readonly appName?: string } | null;

/**
 * The public web endpoint route; mount at the root after `/v1`.
 *
 * @example
 * ```ts
 * app.route("/", endpointRoutes(deps, regions));
 * // GET /default/demo/hello/ → the `hello` endpoint of app `demo` in workspace `default`
 * ```
 */
export const endpointRoutes = (deps: EdgeDeps, regions: RegionClient) => {
  const workspaces = new TtlCache<string, string | null>(LOOKUP_CACHE_MS);
  const functions = new TtlCache<string, Lookup>(LOOKUP_CACHE_MS);
  const grants = new TtlCache<string, TokenGrant>(TOKEN_CACHE_MS);
  // Straight to agents over TCP (or in process) where the runtime has sockets; on Workers every
  // request takes the queue's road through its region.
  const fast = hasSockets() ? new FastPath(regions, deps.internalToken) : undefined;
  // The region chosen for a set of allowed regions, reused briefly (region health changes slowly).
  const pickedRegions = new TtlCache<string, RegionRow>(REGION_PICK_CACHE_MS);

  const workspaceId = async (name: string): Promise<string | null> => {
    const hit = workspaces.get(name);
    if (hit !== undefined) return hit;
    const rs = await deps.storage.client.execute({ sql: "SELECT id FROM workspaces WHERE name = ?", args: [name] });
    const id = rs.rows[0] ? String(rs.rows[0].id) : null;
    workspaces.set(name, id);
    return id;
  };

  const lookup = async (wsId: string, app: string, name: string): Promise<Lookup> => {
    const key = `${wsId}/${app}/${name}`;
    const hit = functions.get(key);
    if (hit) return hit;
    const r = await Effect.runPromise(Effect.result(deps.storage.lookupFunction(wsId, app, name)));
    if (r._tag === "Failure" && r.failure instanceof StorageError) throw r.failure;
    const found: Lookup = r._tag === "Success" ? { fn: r.success } : { missing: r.failure.message };
    functions.set(key, found);
    return found;
  };

  const grantOf = async (secret: string): Promise<TokenGrant> => {
    const hit = grants.get(secret);
    if (hit !== undefined) return hit;
    let grant: TokenGrant = null;
    if (API_TOKEN.test(secret)) grant = (await Effect.runPromise(deps.storage.resolveToken(secret))) ?? null;
    else if (ENDPOINT_TOKEN.test(secret)) grant = (await Effect.runPromise(resolveEndpointToken(deps.storage, secret))) ?? null;
    grants.set(secret, grant);
    return grant;
  };

  const serve = async (c: Context<EdgeEnv>) => {
    const url = new URL(c.req.url);
    const [, wsName = "", appName = "", fnName = "", ...restParts] = url.pathname.split("/");
    if (wsName === "v1") return answer(c, 404, "NotFoundError", `no route ${c.req.method} ${url.pathname}`);
    const [ws, app, name] = [wsName, appName, fnName].map(decodeURIComponent) as [string, string, string];
    // Cache hits are taken without a turn of the event loop each (this is every warm request).
    const wsId = workspaces.get(ws) ?? await workspaceId(ws);
    if (!wsId) return answer(c, 404, "NotFoundError", `workspace ${ws} not found: endpoint URLs are /<workspace>/<app>/<function>/… (ferry deploy prints them)`);
    const found = functions.get(`${wsId}/${app}/${name}`) ?? await lookup(wsId, app, name);
    if ("missing" in found) return answer(c, 404, "NotFoundError", `no deployed endpoint ${app}/${name} in workspace ${ws}: ${found.missing}`);
    const fn = found.fn;
    if (!fn.options.endpoint) return answer(c, 404, "NotFoundError", `function ${app}.${name} is not a web endpoint: serve it with app.endpoint or app.webApp and deploy again`);
    const endpoint = resolveEndpoint(fn.options.endpoint);
    const prefix = `/${wsName}/${appName}/${fnName}`;
    const rest = `/${restParts.join("/")}`;
    if (endpoint.kind === "endpoint") {
      if (rest !== endpoint.path) return answer(c, 404, "NotFoundError", `no endpoint at ${url.pathname}: ${app}.${name} answers at ${prefix}${endpoint.path === "/" ? "/" : endpoint.path}`);
      if (c.req.method !== endpoint.method) {
        return answer(c, 405, "MethodNotAllowedError", `${app}.${name} answers ${endpoint.method} only, not ${c.req.method}`, { allow: endpoint.method });
      }
    }
    const client = clientHead(c);
    if (endpoint.auth === "token") {
      const secret = BEARER.exec(client.authorization ?? "")?.[1];
      const grant = secret ? await grantOf(secret) : null;
      if (!grant || grant.workspaceId !== fn.workspaceId || (grant.appName !== undefined && grant.appName !== app)) {
        return answer(c, 401, "UnauthorizedError", secret
          ? `this token does not open ${app}.${name}: use a token of its workspace (ferry token new) or an endpoint token of app ${app} (ferry token new --endpoint ${app})`
          : `${app}.${name} requires a token: send 'Authorization: Bearer …' with a workspace token (ferry token new) or an endpoint token (ferry token new --endpoint ${app})`,
        { "www-authenticate": "Bearer" });
      }
    }
    const declared = client.contentLength;
    const contentLength = declared === undefined ? undefined : Number(declared);
    if (contentLength !== undefined && contentLength > Limits.maxEndpointBodyBytes) {
      return answer(c, 413, "PayloadTooLargeError", `request body is ${contentLength} bytes; the limit (maxEndpointBodyBytes) is ${Limits.maxEndpointBodyBytes}`);
    }
    const options = optionsOf(fn);
    const pin = client.pin;
    const allowed = pin ? await Effect.runPromise(Effect.result(regionsForRequest(pin, options.regions, app))) : undefined;
    if (allowed?._tag === "Failure") return answer(c, 404, "NotFoundError", allowed.failure.message);
    const choice = allowed ? allowed.success : options.regions;
    const choiceKey = choice.join(",");
    let region = pickedRegions.get(choiceKey);
    if (!region) {
      const picked = await Effect.runPromise(Effect.result(regions.pick(choice)));
      // A choice that failed is not kept: the next request asks again.
      if (picked._tag === "Failure") return answer(c, 503, "UnavailableError", picked.failure.message);
      region = picked.success;
      pickedRegions.set(choiceKey, region);
    }

    // The token that opened the endpoint is the platform's, not the handler's.
    const headers = endpoint.auth === "token" ? client.headers.filter(([k]) => k !== "authorization") : client.headers;
    headers.push(["x-forwarded-prefix", prefix]);
    const method = c.req.method;
    const target = `${url.origin}${rest}${url.search}`;
    // The method first: reading `body` of a GET would build a whole Request on Node for nothing.
    const raw = method !== "GET" && method !== "HEAD" && contentLength !== 0 ? c.req.raw.body ?? undefined : undefined;
    // A small body announced by its length is read now and travels with the request, either road.
    let inline: Uint8Array | undefined;
    if (raw && contentLength !== undefined && contentLength <= Limits.endpointInlineBodyBytes) {
      const all = await new ClientBody(raw).readAll();
      if (!(all instanceof Uint8Array)) return answer(c, all.error === "too-large" ? 413 : 400, all.error === "too-large" ? "PayloadTooLargeError" : "ValidationError", all.message);
      inline = all;
    }
    const streamed = raw && !inline ? new ClientBody(raw) : undefined;
    const served = fast === undefined ? undefined : await fast.serve({
      region: region, timeoutS: options.timeoutS, body: streamed, inline, signal: c.req.raw.signal,
      head: { functionId: fn.id, method, url: target, headers, body: inline ? "inline" : streamed ? "stream" : "none" },
    });
    if (served) return served;

    // The queue's road: nothing of the body was read on the way here but a small inline one.
    const headLine = `${JSON.stringify({ method, url: target, headers, ...(contentLength === undefined ? {} : { contentLength }) })}\n`;
    const body = inline ? concatBytes([utf8.encode(headLine), inline]) : raw ? withHeadLine(headLine, raw) : headLine;
    const upstream = await Effect.runPromise(Effect.result(regions.request(region, `/internal/endpoints/${fn.id}/requests`, {
      method: "POST", body, signal: c.req.raw.signal, ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit)));
    if (upstream._tag === "Failure") return answer(c, 503, "UnavailableError", upstream.failure.message);
    return relayResponse(upstream.success);
  };

  return new Hono<EdgeEnv>().all("/:workspace/:app/:function", serve).all("/:workspace/:app/:function/*", serve);
};

/** Whether this runtime can open TCP connections to agents (Node, Bun, Deno; not Workers). */
const hasSockets = (): boolean =>
  (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node !== undefined
  && (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent !== "Cloudflare-Workers";

/** The client's body behind the head line, pulled only as the region reads it. */
const withHeadLine = (line: string, body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> => {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    start: (ctl) => ctl.enqueue(utf8.encode(line)),
    pull: async (ctl) => {
      const r = await reader.read();
      if (r.done) ctl.close();
      else ctl.enqueue(r.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
};

/** The region's answer as the client's: the handler's status, headers (content-encoding restored) and body stream. */
const relayResponse = (upstream: Response): Response => {
  const headers = new Headers();
  for (const [k, v] of upstream.headers) {
    if (HOP_HEADERS.has(k) || k === "content-encoding" || k === "date") continue;
    headers.append(k === CONTENT_ENCODING_RELAY ? "content-encoding" : k, v);
  }
  return new Response(upstream.body, { status: upstream.status, headers });
};
