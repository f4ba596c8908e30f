import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import { startEdgeServer } from "@ferry/control-edge";
import { loadGpuCatalog, LocalProvider, SimulatedCloudProvider, startRegionServer, type CapacityProvider, type StockOut } from "@ferry/regions";
import { agentProcessLauncher } from "./agent-process-launcher.ts";
import { parseSimulatedGpus, startAgent, type AgentOptions, type RunningAgent } from "@ferry/gpu-agent";
import { startNatsServer, type RunningNats } from "./nats-server.ts";
import { localSecretKey } from "../secrets/local-secret-key.ts";

export interface LocalPlatformOptions {
  /** Where NATS and libSQL keep state; a fresh temporary directory when left out. */
  readonly stateDir?: string;
  readonly region?: string;
  /** Agents started in this process (0 to start them elsewhere, e.g. `ferry agent`). */
  readonly agents?: number;
  /** Edge port; 0 (default) picks a free one. */
  readonly port?: number;
  readonly workspace?: string;
  /** The key secrets are sealed with (32 bytes, base64): default `FERRY_SECRET_KEY`, else one kept in the state directory. */
  readonly secretKey?: string;
  /** Simulated GPUs on each local agent (`"H100:8"`); none by default. */
  readonly gpus?: string;
  /**
   * Capacity providers for the region's broker: simulated clouds quoting the real GPU price
   * catalogs (nodes start as local agent processes with simulated GPUs) and the local machine.
   * Off by default: only the agents above serve.
   */
  readonly providers?: {
    /** Which catalog clouds to simulate (default: all of them). */
    readonly clouds?: ReadonlyArray<string>;
    readonly provisionDelayMs?: number;
    readonly stockOuts?: Readonly<Record<string, ReadonlyArray<StockOut>>>;
    /** A provisioned node without containers this long is terminated. */
    readonly nodeIdleWindowMs?: number;
  };
}

export interface LocalPlatform {
  readonly url: string;
  readonly token: string;
  readonly natsUrl: string;
  readonly databaseUrl: string;
  readonly regionAddress: string;
  readonly regionUrl: string;
  readonly internalToken: string;
  readonly stateDir: string;
  readonly agents: RunningAgent[];
  /** The region broker's capacity providers (empty unless `providers` was given). */
  readonly providers: ReadonlyArray<CapacityProvider>;
  /** Start one more agent in this process. */
  addAgent(options?: Partial<AgentOptions>): Promise<RunningAgent>;
  stop(): Promise<void>;
}

/**
 * The whole platform on this machine: a `nats-server` child with JetStream, a libSQL file, the
 * edge, one region and its agents, the same processes and protocols as a deployment, fewer
 * hosts. Used by `ferry up`, `ferry run` without a platform, and the tests.
 *
 * @example
 * ```ts
 * const platform = await startLocalPlatform({ agents: 1 });
 * // FERRY_URL=platform.url FERRY_TOKEN=platform.token …
 * await platform.stop();
 * ```
 */
export const startLocalPlatform = async (opts: LocalPlatformOptions = {}): Promise<LocalPlatform> => {
  const ownsState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? await mkdtemp(join(tmpdir(), "ferry-platform-"));
  await mkdir(stateDir, { recursive: true });
  const region = opts.region ?? "local";
  const internalToken = randomBytes(24).toString("hex");
  const databaseUrl = `file:${join(stateDir, "state.db")}`;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    if (ownsState) await rm(stateDir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    const nats: RunningNats = await startNatsServer(join(stateDir, "nats"));
    stops.push(() => nats.stop());
    let regionAddress = "";
    const providers: CapacityProvider[] = [];
    if (opts.providers) {
      const launchNode = agentProcessLauncher({ region, regionAddress: () => regionAddress, natsUrl: nats.url, internalToken });
      const { offers, clouds } = loadGpuCatalog();
      for (const cloud of opts.providers.clouds ?? clouds) {
        providers.push(new SimulatedCloudProvider({
          cloud, offers, launchNode, provisionDelayMs: opts.providers.provisionDelayMs, stockOuts: opts.providers.stockOuts?.[cloud],
        }));
      }
      providers.push(new LocalProvider({ launchNode }));
    }
    const secretKey = opts.secretKey ?? await localSecretKey(stateDir);
    const regionServer = await startRegionServer({
      secretKey, region, host: "127.0.0.1", httpPort: 0, grpcPort: 0, natsUrl: nats.url, databaseUrl, internalToken,
      providers, nodeIdleWindowMs: opts.providers?.nodeIdleWindowMs, dataDir: join(stateDir, "region"),
    });
    regionAddress = regionServer.grpcAddress;
    stops.push(() => regionServer.close());
    const edge = await startEdgeServer({ host: "127.0.0.1", port: opts.port ?? 0, databaseUrl, internalToken });
    stops.push(() => edge.close());
    // Containers reach the platform's API for user code (Dicts, Queues, `.remote()`) through their agent.
    regionServer.setApiUrl(edge.url);
    const ws = await Effect.runPromise(edge.storage.ensureWorkspace(opts.workspace ?? "default"));
    const { secret } = await Effect.runPromise(edge.storage.createToken(ws.id, "local"));
    const agents: RunningAgent[] = [];
    // Agent state lives under the temp dir: the sandbox user must be able to read the runner and bundles.
    const agentRoot = await mkdtemp(join(tmpdir(), "ferry-agents-"));
    await chmod(agentRoot, 0o755);
    stops.push(() => rm(agentRoot, { recursive: true, force: true }));
    const gpus = opts.gpus !== undefined ? parseSimulatedGpus(opts.gpus) : undefined;
    const addAgent = async (extra: Partial<AgentOptions> = {}) => {
      const agent = await startAgent({
        region, cloud: "local", regionAddress: regionServer.grpcAddress, natsUrl: nats.url,
        stateDir: join(agentRoot, `agent-${agents.length}`), internalToken, gpus, ...extra,
      });
      agents.push(agent);
      stops.push(() => agent.close());
      return agent;
    };
    for (let i = 0; i < (opts.agents ?? 1); i++) await addAgent();
    return {
      url: edge.url, token: secret, natsUrl: nats.url, databaseUrl, regionAddress: regionServer.grpcAddress,
      regionUrl: regionServer.httpUrl, internalToken, stateDir, agents, providers, addAgent, stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
};
