/**
 * Several regions on this machine, laid out as a deployment is (see infra/local/README.md):
 * - a state cluster: one `nats-server` per region (plus witnesses up to three, so a majority
 *   survives the loss of any one region) joined by routes, holding the replicated state log;
 * - per region: its own `nats-server` (work queues, stores) and a region process
 *   (`ferry region serve`: the region server, its replica of the state, its agents);
 * - the edge in this process, with its own replica, routing each request to the nearest healthy
 *   region and failing over when one stops answering.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import { startEdgeServer } from "@ferry/control-edge";
import { openStateClient, type StateClient, type StateReplica } from "@ferry/regions";
import { localSecretKey } from "../secrets/local-secret-key.ts";
import { startNatsCluster, type RunningNatsCluster } from "./nats-cluster.ts";
import { startNatsServer, type RunningNats } from "./nats-server.ts";
import { spawnRegionProcess, type RegionProcess } from "./region-process.ts";

/** A state cluster smaller than this cannot keep a majority after losing a member. */
export const MIN_STATE_CLUSTER_SIZE = 3;
/** How long start-up waits for the edge to see every region registered. */
const REGIONS_VISIBLE_TIMEOUT_MS = 30_000;
/** Region names: lower-case words joined by dashes, as cloud regions are named. */
const REGION_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Options of `startMultiRegionPlatform`. */
export interface MultiRegionPlatformOptions {
  /** Two or more region names, e.g. `["us-east", "eu-west"]`. */
  readonly regions: ReadonlyArray<string>;
  /** Agents in each region (default 1). */
  readonly agentsPerRegion?: number;
  /** Edge port; 0 (default) picks a free one. */
  readonly port?: number;
  readonly stateDir?: string;
  readonly workspace?: string;
  /** Simulated GPUs on each agent. */
  readonly gpus?: string;
}

/** One region of the local layout and the processes it is made of. */
export interface PlatformRegion {
  readonly name: string;
  readonly natsUrl: string;
  readonly httpUrl: string;
  readonly process: RegionProcess;
  readonly nats: RunningNats;
  /** This region's member of the state cluster. */
  readonly stateServer: RunningNats;
  /** SIGKILL every process of the region (its region process, its NATS, its state-cluster member). */
  kill(): void;
  /** SIGSTOP them: a region cut off without closing a connection. */
  pause(): void;
  /** SIGCONT: the cut-off region rejoins. */
  resume(): void;
}

/** The running multi-region platform. */
export interface MultiRegionPlatform {
  readonly url: string;
  readonly token: string;
  readonly internalToken: string;
  readonly stateDir: string;
  readonly stateCluster: RunningNatsCluster;
  readonly regions: ReadonlyArray<PlatformRegion>;
  /** The edge's replica of the state. */
  readonly edgeReplica: StateReplica;
  region(name: string): PlatformRegion;
  stop(): Promise<void>;
}

/** Throws when `names` cannot make a multi-region layout. */
export const checkRegionNames = (names: ReadonlyArray<string>): void => {
  if (names.length < 2) throw new Error(`a multi-region platform needs two or more regions, got ${names.length}`);
  for (const n of names) if (!REGION_NAME.test(n)) throw new Error(`invalid region name ${JSON.stringify(n)}: use lower-case words joined by dashes, e.g. us-east`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`region ${dup} is named twice`);
};

const signal = (p: { readonly pid?: number | undefined }, sig: NodeJS.Signals) => {
  if (p.pid !== undefined) {
    try {
      process.kill(p.pid, sig);
    } catch {
      // already gone
    }
  }
};

/**
 * Start `regions` on this machine, each with its own NATS and processes, sharing replicated state.
 *
 * @example
 * ```ts
 * const platform = await startMultiRegionPlatform({ regions: ["us-east", "eu-west"] });
 * platform.region("us-east").kill(); // calls now go to eu-west
 * ```
 */
export const startMultiRegionPlatform = async (opts: MultiRegionPlatformOptions): Promise<MultiRegionPlatform> => {
  checkRegionNames(opts.regions);
  const ownsState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? await mkdtemp(join(tmpdir(), "ferry-federation-"));
  await mkdir(stateDir, { recursive: true });
  const internalToken = randomBytes(24).toString("hex");
  const secretKey = await localSecretKey(stateDir);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    if (ownsState) await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    const members = [...opts.regions];
    for (let i = 1; members.length < MIN_STATE_CLUSTER_SIZE; i++) members.push(`witness-${i}`);
    const stateCluster = await startNatsCluster(join(stateDir, "state-nats"), "ferry-state", members);
    stops.push(() => stateCluster.stop());
    const replicas = Math.min(MIN_STATE_CLUSTER_SIZE, members.length);
    const edgeState: StateClient = await openStateClient({
      databaseUrl: `file:${join(stateDir, "edge.db")}`, replication: { natsUrls: stateCluster.urls, origin: "edge", replicas },
    });
    stops.push(() => edgeState.close());
    const edgeReplica = edgeState.replica!;
    const edge = await startEdgeServer({
      host: "127.0.0.1", port: opts.port ?? 0, databaseUrl: "", internalToken, client: edgeState.client, stateSeq: () => edgeReplica.appliedSeq,
    });
    stops.push(() => edge.close());
    const regions = await Promise.all(opts.regions.map(async (name, i): Promise<PlatformRegion> => {
      const dir = join(stateDir, "regions", name);
      const nats = await startNatsServer(join(dir, "nats"));
      stops.push(() => nats.stop());
      const process_ = await spawnRegionProcess({
        name, natsUrl: nats.url, stateNatsUrls: stateCluster.urls, stateReplicas: replicas, databasePath: join(dir, "state.db"),
        dataDir: dir, agents: opts.agentsPerRegion ?? 1, apiUrl: edge.url, gpus: opts.gpus, internalToken, secretKey,
      });
      stops.push(() => process_.stop());
      const stateServer = stateCluster.members[i]!;
      const all = [process_.process, nats.process, stateServer.process];
      return {
        name, natsUrl: nats.url, httpUrl: process_.httpUrl, process: process_, nats, stateServer,
        kill: () => all.forEach((p) => signal(p, "SIGKILL")),
        pause: () => all.forEach((p) => signal(p, "SIGSTOP")),
        resume: () => all.forEach((p) => signal(p, "SIGCONT")),
      };
    }));
    const ws = await Effect.runPromise(edge.storage.ensureWorkspace(opts.workspace ?? "default"));
    const { secret } = await Effect.runPromise(edge.storage.createToken(ws.id, "local"));
    // Regions register through the replicated state: wait until the edge's replica shows them all.
    const deadline = Date.now() + REGIONS_VISIBLE_TIMEOUT_MS;
    for (;;) {
      const seen = (await Effect.runPromise(edge.storage.listRegions())).map((r) => r.name);
      if (opts.regions.every((n) => seen.includes(n))) break;
      if (Date.now() > deadline) throw new Error(`regions ${opts.regions.filter((n) => !seen.includes(n)).join(", ")} did not register within ${REGIONS_VISIBLE_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      url: edge.url, token: secret, internalToken, stateDir, stateCluster, regions, edgeReplica,
      region: (name) => {
        const r = regions.find((x) => x.name === name);
        if (!r) throw new Error(`no region ${name} (regions: ${regions.map((x) => x.name).join(", ")})`);
        return r;
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
};
