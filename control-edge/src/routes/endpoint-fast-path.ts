// The warm fast path for web endpoints, at the edge. A region lists, per endpoint function, the
// agents running its containers and their slots (`GET /internal/endpoints/:id/routes`); the edge
// keeps that list for `FAST_ROUTES_TTL_MS` (refreshed in the background, so no request waits for
// it) and one persistent connection per agent, and sends each request to the agent with the
// fewest outstanding requests for its slots. The agent picks its least loaded container with a
// free slot, or answers `busy`; a function with no running container (scale from zero), a busy
// answer or an agent that cannot be reached sends the request the queue's way instead.
import { Effect } from "effect";
import { Limits, type FastRequestHead, type RegionRow } from "@ferry/core";
import type { RegionClient } from "../regions/region-client.ts";
import type { ClientBody } from "./endpoint-client-body.ts";
import { FastExchange } from "./endpoint-fast-exchange.ts";
import { AgentLink } from "./endpoint-fast-link.ts";

/** How long a function's routes are used before the region is asked again (in the background). */
export const FAST_ROUTES_TTL_MS = 1_000;
/** After a connection to an agent fails, requests go the queue's way this long before it is tried again. */
export const LINK_RETRY_MS = 1_000;

interface Route { readonly agentId: string; readonly address: string; readonly slots: number }
interface Routes { routes: ReadonlyArray<Route>; at: number; refreshing: boolean }

/** The request, as the fast path sends it. */
export interface FastRequest {
  readonly region: RegionRow;
  readonly head: FastRequestHead;
  readonly timeoutS: number;
  readonly body?: ClientBody;
  readonly inline?: Uint8Array;
  readonly signal?: AbortSignal;
}

/**
 * Sends warm endpoint requests straight to agents; see the file comment.
 *
 * @example
 * ```ts
 * const fast = new FastPath(regions, internalToken);
 * const res = await fast.serve({ region, head, timeoutS: 300 });
 * if (res === undefined) { ...queue path... }
 * ```
 */
export class FastPath {
  /** Requests answered on the fast path, and sent the queue's way, since start (for tests and figures). */
  served = 0;
  fellBack = 0;
  private readonly regions: RegionClient;
  private readonly token: string;
  private readonly routes = new Map<string, Routes>();
  private readonly links = new Map<string, AgentLink>();
  private readonly downUntil = new Map<string, number>();

  constructor(regions: RegionClient, internalToken: string) {
    this.regions = regions;
    this.token = internalToken;
  }

  /** Serve the request on the fast path: its response, or `undefined` to send it the queue's way. */
  async serve(req: FastRequest): Promise<Response | undefined> {
    const routes = this.routesFor(req.region, req.head.functionId);
    if (routes.length === 0) return this.fallBack();
    let tried: Set<string> | undefined;
    for (;;) {
      const link = this.choose(routes, tried);
      if (!link) return this.fallBack();
      (tried ??= new Set()).add(link.address);
      if (!link.welcomed && !(await link.ready)) continue;
      const res = await new FastExchange(link, req.head, {
        body: req.body, inline: req.inline, signal: req.signal, headDeadlineMs: req.timeoutS * 1000 + Limits.endpointStartTimeoutMs,
      }).response;
      if (res !== undefined) {
        this.served++;
        return res;
      }
    }
  }

  /** Drop every connection (the edge is closing). */
  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }

  private fallBack(): undefined {
    this.fellBack++;
    return undefined;
  }

  /** The link to the least loaded route not tried yet, with room by the edge's own count. */
  private choose(routes: ReadonlyArray<Route>, tried: ReadonlySet<string> | undefined): AgentLink | undefined {
    let best: AgentLink | undefined;
    let bestLoad = Infinity;
    for (const r of routes) {
      if (tried?.has(r.address)) continue;
      const link = this.linkTo(r);
      if (!link) continue;
      const load = link.outstanding / Math.max(1, r.slots);
      if (load < 1 && load < bestLoad) {
        best = link;
        bestLoad = load;
      }
    }
    return best;
  }

  private linkTo(r: Route): AgentLink | undefined {
    const key = r.address;
    const open = this.links.get(key);
    if (open?.alive && open.agentId === r.agentId) return open;
    if ((this.downUntil.get(key) ?? 0) > Date.now()) return undefined;
    open?.close("replaced");
    const link = AgentLink.open(r.address, r.agentId, this.token, () => {
      if (this.links.get(key) === link) this.links.delete(key);
      this.downUntil.set(key, Date.now() + LINK_RETRY_MS);
    });
    this.links.set(key, link);
    void link.ready.then((ok) => ok && this.downUntil.delete(key));
    return link;
  }

  /** The function's routes as last heard, asking the region again when they are old. */
  private routesFor(region: RegionRow, functionId: string): ReadonlyArray<Route> {
    const key = `${region.name}\0${functionId}`;
    let entry = this.routes.get(key);
    if (!entry) this.routes.set(key, (entry = { routes: [], at: 0, refreshing: false }));
    if (!entry.refreshing && Date.now() - entry.at > FAST_ROUTES_TTL_MS) void this.refresh(region, functionId, entry);
    return entry.routes;
  }

  private async refresh(region: RegionRow, functionId: string, entry: Routes): Promise<void> {
    entry.refreshing = true;
    try {
      const res = await Effect.runPromise(this.regions.request(region, `/internal/endpoints/${functionId}/routes`));
      if (res.ok) entry.routes = ((await res.json()) as { routes: Route[] }).routes;
      else await res.body?.cancel();
    } catch {
      // The region did not answer: keep what was known; its queue path reports the problem.
    } finally {
      entry.at = Date.now();
      entry.refreshing = false;
    }
  }
}
