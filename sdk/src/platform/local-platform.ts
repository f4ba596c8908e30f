import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Effect } from "effect";
import { startEdgeServer } from "@ferry/control-edge";
import { startRegionServer } from "@ferry/regions";
import { startAgent, type RunningAgent } from "@ferry/gpu-agent";
import { startNatsServer, type RunningNats } from "./nats-server.ts";

export interface LocalPlatformOptions {
  /** Where NATS and libSQL keep state; a fresh temporary directory when left out. */
  readonly stateDir?: string;
  readonly region?: string;
  /** Agents started in this process (0 to start them elsewhere, e.g. `ferry agent`). */
  readonly agents?: number;
  /** Edge port; 0 (default) picks a free one. */
  readonly port?: number;
  readonly workspace?: string;
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
  /** Start one more agent in this process. */
  addAgent(): Promise<RunningAgent>;
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
    const regionServer = await startRegionServer({ region, host: "127.0.0.1", httpPort: 0, grpcPort: 0, natsUrl: nats.url, databaseUrl, internalToken });
    stops.push(() => regionServer.close());
    const edge = await startEdgeServer({ host: "127.0.0.1", port: opts.port ?? 0, databaseUrl, internalToken });
    stops.push(() => edge.close());
    const ws = await Effect.runPromise(edge.storage.ensureWorkspace(opts.workspace ?? "default"));
    const { secret } = await Effect.runPromise(edge.storage.createToken(ws.id, "local"));
    const agents: RunningAgent[] = [];
    // Agent state lives under the temp dir: the sandbox user must be able to read the runner and bundles.
    const agentRoot = await mkdtemp(join(tmpdir(), "ferry-agents-"));
    await chmod(agentRoot, 0o755);
    stops.push(() => rm(agentRoot, { recursive: true, force: true }));
    const addAgent = async () => {
      const agent = await startAgent({
        region, cloud: "local", regionAddress: regionServer.grpcAddress, natsUrl: nats.url,
        stateDir: join(agentRoot, `agent-${agents.length}`), internalToken,
      });
      agents.push(agent);
      stops.push(() => agent.close());
      return agent;
    };
    for (let i = 0; i < (opts.agents ?? 1); i++) await addAgent();
    return {
      url: edge.url, token: secret, natsUrl: nats.url, databaseUrl, regionAddress: regionServer.grpcAddress,
      regionUrl: regionServer.httpUrl, internalToken, stateDir, agents, addAgent, stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
};
