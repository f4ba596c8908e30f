import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus, SandboxStore, Storage, UsageStore } from "@ferry/core";
import { connectNats, listenHttp } from "@ferry/core/node";
import { Effect, Layer } from "effect";
import { startAgentControlServer } from "./agents/agent-control-server.ts";
import { Fleet } from "./agents/fleet.ts";
import { Autoscaler } from "./autoscaler/autoscaler.ts";
import { Broker } from "./broker/broker.ts";
import { Reputation } from "./broker/reputation.ts";
import { Meter } from "./metering/meter.ts";
import { gpuMarket } from "./broker/gpu-market.ts";
import { Provisioner } from "./broker/provisioner.ts";
import type { CapacityProvider } from "./broker/providers/capacity-provider.ts";
import { allowedIn, makeRegionApi, warmUp } from "./http/internal-api.ts";
import { internalSandboxRoutes } from "./sandboxes/internal-sandbox-routes.ts";
import { SandboxService } from "./sandboxes/sandbox-service.ts";
import { openRegionObjects } from "./secrets/region-objects.ts";
import { ContainerApiAccess } from "./broker/container-api-access.ts";
import { startStores } from "./stores/index.ts";
import { Scheduler } from "./schedules/scheduler.ts";
import { blockUploadRoutes } from "./images/block-upload-routes.ts";
import { PeerBlockStore } from "./images/peer-block-store.ts";
import { openStateClient } from "./replication/open-state-client.ts";
import { readYourWrites } from "./replication/read-your-writes.ts";
import { sqlHttpRoutes } from "./sql-http/sql-http-routes.ts";
import { endpointRoutes } from "./endpoints/endpoint-routes.ts";
// The default block store, by path: @ferry/image-builder is not a dependency of regions.
import { LocalDirBlockStore } from "../../image-builder/src/store/local-dir-block-store.ts";

/** A peer region whose record is older than this is not asked for blocks. */
const PEER_REGION_STALE_MS = 10_000;
/** How often a region refreshes its record in the platform state. */
export const REGION_REFRESH_MS = 2_000;

export interface RegionServerOptions {
  readonly region: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly natsUrl: string;
  readonly databaseUrl: string;
  readonly internalToken: string;
  /** The platform key secrets are sealed with (32 bytes, base64); default `FERRY_SECRET_KEY`. Every region needs the same. */
  readonly secretKey?: string;
  /** The public API (the edge's URL) that containers' API bridge calls; also settable later with `setApiUrl`. */
  readonly apiUrl?: string;
  /** Capacity providers the broker may provision nodes from when no agent can serve. */
  readonly providers?: ReadonlyArray<CapacityProvider>;
  /** A provisioned node without containers this long is terminated (default `DEFAULT_NODE_IDLE_WINDOW_MS`). */
  readonly nodeIdleWindowMs?: number;
  /** Where the region writes one line per notable event (provisioning, stock-outs). */
  readonly log?: (line: string) => void;
  /** The region's data directory (image blocks under `blocks/`); default a fresh temporary directory. */
  readonly dataDir?: string;
  /** Keep `databaseUrl` as this region's replica of the replicated platform state (multi-region). */
  readonly replication?: { readonly natsUrls: string; readonly replicas?: number };
}

export interface RunningRegion {
  readonly region: string;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  /** Point containers started from now on at the public API (the edge's URL), for user code's API calls. */
  setApiUrl(url: string): void;
  close(): Promise<void>;
}


/**
 * Start a region: its agent control channel (gRPC), internal HTTP API, and autoscaler; the region
 * records its URL in the platform state so the edge can route to it.
 *
 * @example
 * ```ts
 * const region = await startRegionServer({ region: "local", host: "127.0.0.1", httpPort: 0, grpcPort: 0, natsUrl, databaseUrl, internalToken });
 * ```
 */
export const startRegionServer = async (opts: RegionServerOptions): Promise<RunningRegion> => {
  const nc = await connectNats(opts.natsUrl, `ferry-region-${opts.region}`);
  const state = await openStateClient({
    databaseUrl: opts.databaseUrl, log: opts.log,
    replication: opts.replication ? { ...opts.replication, origin: opts.region } : undefined,
  });
  const client = state.client;
  // Servers own their lifetimes, so the services are built once here rather than per request.
  const { storage, bus } = await Effect.runPromise(Effect.gen(function*() {
    return { storage: yield* Storage, bus: yield* Bus };
  }).pipe(Effect.provide(Layer.mergeAll(Storage.layerClient(client), Bus.layerConnection(nc)))));
  const fleet = new Fleet();
  const grpcServer = await startAgentControlServer({ host: opts.host, port: opts.grpcPort, region: opts.region, fleet });

  let httpUrl = "";
  const reputation = new Reputation();
  // A start that fails for want of the capacity its agent bid is a lie (or a stale view): its
  // bids count for less until it recovers.
  fleet.containerGoneListeners.push((c, reason) => {
    if (reason.startsWith("insufficient capacity")) reputation.penalize(c.agentId);
  });
  // The ranks of a cluster live and die together.
  fleet.containerGoneListeners.push((c) => {
    if (c.clusterId === undefined) return;
    for (const other of fleet.containers.values()) {
      if (other.clusterId === c.clusterId) fleet.agents.get(other.agentId)?.send({ body: "stop", stop: { containerId: other.containerId, reason: `cluster rank ${c.rank} ended` } });
    }
  });
  const meter = new Meter({ region: opts.region, fleet, usage: UsageStore.fromStorage(storage) });
  const objects = await openRegionObjects(client, opts.secretKey ?? process.env.FERRY_SECRET_KEY);
  const containerApi = new ContainerApiAccess(storage, opts.apiUrl);
  const broker = new Broker({ fleet, reputation, bundleUrl: () => httpUrl, prepareStart: objects.prepareStart, containerApi: (ws) => containerApi.forWorkspace(ws) });
  const provisioner = new Provisioner({ providers: opts.providers ?? [], fleet, idleWindowMs: opts.nodeIdleWindowMs, log: opts.log });
  const autoscaler = new Autoscaler({ jsm: bus.jsm, fleet, broker, provisioner });
  const sandboxStore = SandboxStore.fromStorage(storage);
  const sandboxes = new SandboxService({ region: opts.region, fleet, broker, store: sandboxStore, nc, regionUrl: () => httpUrl, blocks: () => sharedBlocks });
  // A redeploy that changed a function's code or options: its containers stop (finishing what they
  // hold, then running a class's exit) and leave the autoscaler's count, so new ones start at once.
  const restartFunction = (functionId: string, reason: string) => {
    for (const c of fleet.liveContainers(functionId)) {
      c.evicting = true;
      fleet.agents.get(c.agentId)?.send({ body: "stop", stop: { containerId: c.containerId, reason } });
    }
  };
  // With several regions, Dicts and Queues live on the state cluster: one copy of each for every
  // region, kept on three servers.
  const storeBus = state.nc === undefined ? bus : await Effect.runPromise(Effect.gen(function*() {
    return yield* Bus;
  }).pipe(Effect.provide(Bus.layerConnection(state.nc))));
  const stores = startStores(storeBus, state.nc === undefined ? {} : { replicas: opts.replication?.replicas ?? 3 });
  const ownDataDir = opts.dataDir === undefined ? await mkdtemp(join(tmpdir(), "ferry-region-")) : undefined;
  const blocks = new LocalDirBlockStore(join(opts.dataDir ?? ownDataDir!, "blocks"));
  // Blocks uploaded to another region are fetched from it on first read (images follow functions).
  const peerRegions = async () => (await Effect.runPromise(storage.listRegions()).catch(() => []))
    .filter((r) => r.name !== opts.region && Date.now() - r.updatedAt < PEER_REGION_STALE_MS);
  const sharedBlocks = new PeerBlockStore(blocks, peerRegions, opts.internalToken);
  const api = makeRegionApi({ region: opts.region, stateSeq: state.replica ? () => state.replica!.appliedSeq : undefined, internalToken: opts.internalToken, storage, bus, autoscaler,
    market: () => gpuMarket(fleet, opts.providers ?? [], reputation), sandboxRoutes: internalSandboxRoutes({ sandboxes, fleet, store: sandboxStore, bus }),
    terminateAppSandboxes: (appId) => sandboxes.terminateApp(appId), restartFunction, objects, stores, blocks: { store: sharedBlocks, peerStore: blocks } });
  // Deploys upload image blocks and indexes here (behind the internal token, like every /internal route).
  api.route("/internal", blockUploadRoutes({ store: blocks }));
  // Web endpoint requests the edge forwards (behind the internal token too).
  api.route("/internal", endpointRoutes({ storage, bus, autoscaler, fleet }));
  // The platform state over libSQL's remote protocol (`/v2/pipeline`), for edges on Workers, Bun and Deno.
  api.route("/", sqlHttpRoutes({ executor: client, authToken: opts.internalToken }));
  // An edge names the state it has seen: answer once this replica applied as much (read-your-writes).
  const replica = state.replica;
  const serve = replica === undefined ? api.fetch : readYourWrites(replica, api.fetch);
  const http = await listenHttp(serve, opts.host, opts.httpPort);
  httpUrl = http.url;
  await sandboxes.closeLost();
  autoscaler.start();
  const scheduler = new Scheduler({ region: opts.region, storage, bus, autoscaler, log: opts.log });
  scheduler.start();
  meter.start();
  provisioner.start();
  await Effect.runPromise(storage.upsertRegion(opts.region, httpUrl));
  // Functions deployed with minContainers keep their containers up across region restarts.
  for (const fn of await Effect.runPromise(storage.listWarmFunctions()).catch(() => [])) {
    if (allowedIn(fn, opts.region)) await warmUp({ bus, autoscaler }, fn);
  }
  // The record is the region's liveness as the edge sees it: refreshed while up, removed on close.
  const liveness = setInterval(() => void Effect.runPromise(storage.upsertRegion(opts.region, httpUrl)).catch(() => undefined), REGION_REFRESH_MS);

  return {
    region: opts.region,
    httpUrl,
    grpcAddress: `${opts.host}:${grpcServer.port}`,
    setApiUrl: (url) => containerApi.setApiUrl(url),
    close: async () => {
      clearInterval(liveness);
      await Effect.runPromise(storage.removeRegion(opts.region, httpUrl)).catch(() => undefined);
      autoscaler.stop();
      stores.close();
      scheduler.stop();
      await meter.stop();
      await provisioner.stop();
      await grpcServer.close();
      await http.close();
      await nc.drain().catch(() => undefined);
      await state.close();
      if (ownDataDir !== undefined) await rm(ownDataDir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
};
