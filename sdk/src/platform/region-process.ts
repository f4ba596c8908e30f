/**
 * One region as its own process: `ferry region serve` runs a region server (its state a replica
 * of the replicated state log) and the region's local agents; `spawnRegionProcess` starts that
 * command as a child and waits for it to say where it listens. The multi-region local platform
 * starts one per region, so killing a region kills real processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRegionServer, type RunningRegion } from "@ferry/regions";
import { parseSimulatedGpus, startAgent, type RunningAgent } from "@ferry/gpu-agent";

/** The `ferry` CLI. */
const FERRY_BIN = fileURLToPath(new URL("../../bin/ferry.mjs", import.meta.url));
/** How long a region process may take to say it is ready. */
export const REGION_START_TIMEOUT_MS = 60_000;
/** Set for a region process that must stop when its parent's end of its stdin closes. */
export const EXIT_WITH_PARENT_ENV = "FERRY_EXIT_WITH_PARENT";
/** How long a stopping region gets before it is killed. */
const REGION_STOP_GRACE_MS = 10_000;

/** What a region process needs. */
export interface RegionProcessOptions {
  readonly name: string;
  /** The region's own NATS (work queues, stores). */
  readonly natsUrl: string;
  /** The state cluster's servers, comma-separated. */
  readonly stateNatsUrls: string;
  /** Copies of the state log (default 3). */
  readonly stateReplicas?: number;
  /** The region's replica of the platform state (a libSQL file path). */
  readonly databasePath: string;
  readonly dataDir: string;
  readonly agents: number;
  /** The public API containers' bridge calls (the edge). */
  readonly apiUrl?: string;
  readonly gpus?: string;
  readonly internalToken: string;
  readonly secretKey: string;
  /** Listen address (default 127.0.0.1) and ports (0, the default, picks free ones). */
  readonly host?: string;
  readonly httpPort?: number;
  readonly grpcPort?: number;
}

/** A region serving in this process. */
export interface ServedRegion {
  readonly region: RunningRegion;
  readonly agents: ReadonlyArray<RunningAgent>;
  stop(): Promise<void>;
}

/**
 * Serve a region in this process: its region server and `agents` local agents.
 *
 * @example
 * ```ts
 * const served = await serveRegion({ name: "us-east", natsUrl, stateNatsUrls, databasePath, dataDir, agents: 1, internalToken, secretKey });
 * ```
 */
export const serveRegion = async (opts: RegionProcessOptions): Promise<ServedRegion> => {
  await mkdir(opts.dataDir, { recursive: true });
  const region = await startRegionServer({
    region: opts.name, host: opts.host ?? "127.0.0.1", httpPort: opts.httpPort ?? 0, grpcPort: opts.grpcPort ?? 0, natsUrl: opts.natsUrl, databaseUrl: `file:${opts.databasePath}`,
    internalToken: opts.internalToken, secretKey: opts.secretKey, apiUrl: opts.apiUrl, dataDir: join(opts.dataDir, "region"),
    replication: { natsUrls: opts.stateNatsUrls, replicas: opts.stateReplicas },
  });
  const agents: RunningAgent[] = [];
  // Agent state lives under the temp dir: the sandbox user must be able to read the runner and bundles.
  const agentRoot = await mkdtemp(join(tmpdir(), `ferry-agents-${opts.name}-`));
  await chmod(agentRoot, 0o755);
  try {
    for (let i = 0; i < opts.agents; i++) {
      agents.push(await startAgent({
        region: opts.name, cloud: "local", regionAddress: region.grpcAddress, natsUrl: opts.natsUrl,
        stateDir: join(agentRoot, `agent-${i}`), internalToken: opts.internalToken,
        gpus: opts.gpus !== undefined ? parseSimulatedGpus(opts.gpus) : undefined,
      }));
    }
  } catch (e) {
    for (const a of agents) await a.close().catch(() => undefined);
    await region.close();
    throw e;
  }
  return {
    region,
    agents,
    stop: async () => {
      for (const a of agents) await a.close().catch(() => undefined);
      await region.close();
      await rm(agentRoot, { recursive: true, force: true }).catch(() => undefined);
    },
  };
};

/** A region process started by `spawnRegionProcess`. */
export interface RegionProcess {
  readonly name: string;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly process: ChildProcess;
  /** SIGKILL: the region dies as a crashed host would. */
  kill(): void;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

const exited = (child: ChildProcess) => new Promise<void>((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) resolve();
  else child.once("exit", () => resolve());
});

/**
 * Start `ferry region serve` as a child process and wait for its ready line.
 *
 * @example
 * ```ts
 * const r = await spawnRegionProcess({ name: "eu-west", … });
 * r.kill(); // a crashed region
 * ```
 */
export const spawnRegionProcess = async (opts: RegionProcessOptions): Promise<RegionProcess> => {
  const args = [
    FERRY_BIN, "region", "serve", "--name", opts.name, "--nats", opts.natsUrl, "--state-nats", opts.stateNatsUrls,
    "--db", opts.databasePath, "--data-dir", opts.dataDir, "--agents", String(opts.agents),
    ...(opts.stateReplicas !== undefined ? ["--state-replicas", String(opts.stateReplicas)] : []),
    ...(opts.apiUrl ? ["--api-url", opts.apiUrl] : []),
    ...(opts.gpus ? ["--gpus", opts.gpus] : []),
  ];
  // stdin stays open for the child's life: it ends when this process dies, and the region with it.
  const child = spawn(process.execPath, args, {
    env: { ...process.env, FERRY_INTERNAL_TOKEN: opts.internalToken, FERRY_SECRET_KEY: opts.secretKey, [EXIT_WITH_PARENT_ENV]: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192);
  });
  const ready = await new Promise<{ httpUrl: string; grpcAddress: string }>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`region ${opts.name} did not start within ${REGION_START_TIMEOUT_MS} ms: ${stderr.trim()}`)), REGION_START_TIMEOUT_MS);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { httpUrl: string; grpcAddress: string });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`region ${opts.name} exited with ${code}: ${stderr.trim()}`));
    });
  }).catch((e: unknown) => {
    child.kill("SIGKILL");
    throw e;
  });
  child.stdout!.resume();
  return {
    name: opts.name,
    httpUrl: ready.httpUrl,
    grpcAddress: ready.grpcAddress,
    process: child,
    kill: () => void child.kill("SIGKILL"),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), REGION_STOP_GRACE_MS);
      await exited(child);
      clearTimeout(timer);
    },
  };
};
