import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { realpathSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { jetstream } from "@nats-io/jetstream";
import { Limits, newId, publishQuietly, Subjects, type LogLine, type ResolvedFunctionOptions } from "@ferry/core";
import { connectNats, type ContainerReport, type RegionCommand, type StartContainer } from "@ferry/core/node";
import { BundleCache } from "./bundles/bundle-cache.ts";
import { Container, SHUTDOWN_GRACE_MS, type SandboxProcess } from "./containers/container.ts";
import { RegionLink } from "./region-link/region-link.ts";
import { SandboxHost } from "./sandboxes/sandbox-host.ts";
import { buildRunner } from "./runner/build-runner.ts";
import { defaultNodeImageBinds, DEFAULT_UNPRIVILEGED_HOST_ID, sandboxEnv, startSandbox, sweepStaleCgroups, SANDBOX_NODE_DIR } from "./sandbox/index.ts";
import { ColdStartEstimate, composeBid } from "./inventory/compose-bid.ts";
import { InsufficientCapacityError, ResourceLedger, type Claim } from "./inventory/gpu-allocator.ts";
import { gpuDeviceNodes, type GpuInventory } from "./inventory/gpu-inventory.ts";
import { ContainerVolumes } from "./volumes/container-volumes.ts";
import { ContentCache } from "./volumes/content-cache.ts";
import { ContainerImages } from "./images/container-images.ts";
import { mountImageRoot } from "./images/mount-image-root.ts";
import { sweepStaleLazyMounts } from "./images/fuse/lazy-mount.ts";
import type { BlockCacheStats } from "./images/block-cache.ts";
import type { SandboxLimits, SandboxNetwork } from "./sandbox/bwrap-args.ts";
import { assertWarmPoolSize, WarmPool } from "./warm-pool/warm-pool.ts";
import { FastEndpointServer } from "./runner/endpoint-fast-server.ts";
import { warmMisfit } from "./warm-pool/warm-fit.ts";
import { warmSandboxSpec } from "./warm-pool/warm-spec.ts";

/** Where the runner and the app bundle appear inside every sandbox. */
const RUNNER_DIR_IN_SANDBOX = "/opt/ferry/runner";
const APP_DIR_IN_SANDBOX = "/opt/ferry/app";
/** Cancelled call ids are remembered this long (a call's inputs cannot outlive it). */
const CANCEL_MEMORY_MS = 24 * 3600 * 1000;
/** The runner's command line in every container's sandbox. */
const RUNNER_ARGV = [`${SANDBOX_NODE_DIR}/node`, "--disable-warning=ExperimentalWarning", `${RUNNER_DIR_IN_SANDBOX}/runner.mjs`];
/** `memory` is a request used for placement, as on Modal; only runaway process counts are capped (the same for every container). */
const CONTAINER_LIMITS: SandboxLimits = { pids: 512 };
/** Memory the ledger holds for each warm pool sandbox: an idle Node running the runner (about 40 MiB resident). */
export const WARM_SANDBOX_MEMORY_MIB = 64;
/** The sandbox network mode for a function's `network` option ("outbound" unless it says "none"). */
const sandboxNetworkOf = (requested: string | undefined): SandboxNetwork => requested === "none" ? "none" : "outbound";

export interface AgentOptions {
  readonly agentId?: string;
  readonly region: string;
  readonly cloud: string;
  /** host:port of the region's gRPC control channel. */
  readonly regionAddress: string;
  readonly natsUrl: string;
  readonly stateDir: string;
  readonly internalToken: string;
  /** Capacity this agent offers; defaults to the machine's cores and memory. */
  readonly cpu?: number;
  readonly memoryMiB?: number;
  /** The node's GPUs: detected with nvidia-smi, or simulated (`--gpus H100:8`). Default none. */
  readonly gpus?: GpuInventory;
  /** Where the node runs in its cloud, and its RDMA fabric (agents on one fabric can form clusters). */
  readonly cloudRegion?: string;
  readonly zone?: string;
  readonly fabric?: string;
  /** The node's list price, USD per hour, and instance type (from its cloud's price list). */
  readonly pricePerHour?: number;
  readonly instanceType?: string;
  /** Set by a capacity provider that started this node. */
  readonly providerNodeId?: string;
  /** Where other nodes reach this one (default 127.0.0.1: a single-machine platform). */
  readonly advertiseAddress?: string;
  /** Port of the web endpoint fast path, on `advertiseAddress` (default 0: a free one). */
  readonly endpointPort?: number;
  /** Let an edge in this same process reach the fast path in memory instead of over TCP (default true). */
  readonly endpointInProcess?: boolean;
  /**
   * Runtime sandboxes kept pre-started for cold starts of the default image, in the default network
   * mode (default `Limits.defaultWarmPoolSize`; 0 turns the pool off; at most `Limits.maxWarmPoolSize`).
   */
  readonly warmPool?: number;
  /**
   * Fault injection for tests, named as such: a node that registers and bids on all its GPUs but
   * can really use only the first `usableGpus` (a lying agent).
   */
  readonly faults?: { readonly usableGpus?: number };
}

/** Run `start`; if it throws, unmount the container's image (if any) before rethrowing. */
const releasingOnThrow = <A>(image: { release(): Promise<void> } | undefined, start: () => A): A => {
  try {
    return start();
  } catch (e) {
    void image?.release();
    throw e;
  }
};

/** Local nodes' list price when none is given: Ferry's per-core and per-GiB hourly rates. */
export const LOCAL_PRICE_PER_CORE_HOUR = 0.047;
export const LOCAL_PRICE_PER_GIB_HOUR = 0.008;

export interface RunningAgent {
  readonly agentId: string;
  readonly containers: ReadonlyMap<string, Container>;
  /** The node block cache's counters for custom images (undefined before the first one started). */
  imageStats(): Promise<BlockCacheStats | undefined>;
  /** The node's custom images: its block cache, recorded reads, lazy or eager loading. */
  readonly images: ContainerImages;
  /** Pre-started sandboxes waiting for containers: counters, `resize` (0 turns it off). */
  readonly warmPool: WarmPool;
  /** The web endpoint fast path edges send warm requests to: its port and counters. */
  readonly endpoints: FastEndpointServer;
  close(): Promise<void>;
}

/**
 * Start a node agent: connects to its region's control channel and to NATS, then starts, feeds
 * and stops sandboxed containers as the region commands.
 *
 * @example
 * ```ts
 * const agent = await startAgent({ region: "local", cloud: "local", regionAddress, natsUrl, stateDir, internalToken });
 * ```
 */
export const startAgent = async (opts: AgentOptions): Promise<RunningAgent> => {
  const agentId = opts.agentId ?? newId("ag", 10);
  assertWarmPoolSize(opts.warmPool ?? Limits.defaultWarmPoolSize);
  // Sandboxes run as an unprivileged host user, which must reach the runner and bundles here.
  await mkdir(opts.stateDir, { recursive: true });
  await chmod(opts.stateDir, 0o755);
  // Empty cgroups left by an agent that died (its sandboxes died with it).
  sweepStaleCgroups();
  // Lazy image mounts a dead agent left in this state dir: nothing serves them any more.
  await sweepStaleLazyMounts(join(opts.stateDir, "images", "mnt"));
  const nc = await connectNats(opts.natsUrl, `ferry-agent-${agentId}`);
  const js = jetstream(nc);
  const runnerPath = await buildRunner(join(opts.stateDir, "runner"));
  const bundles = new BundleCache(join(opts.stateDir, "bundles"), opts.internalToken);
  const volumeCache = new ContentCache(join(opts.stateDir, "volumes", "cache"));
  const nodeDir = dirname(realpathSync(process.execPath));
  const image = defaultNodeImageBinds(nodeDir, { generatedDir: join(opts.stateDir, "image-etc") });
  const customImages = new ContainerImages({ stateDir: opts.stateDir, internalToken: opts.internalToken, onError: (m) => process.emitWarning(m) });
  const containers = new Map<string, Container>();
  // Warm web endpoint requests from edges, straight to running containers (see FastEndpointServer).
  const endpoints = await FastEndpointServer.listen({
    host: opts.advertiseAddress ?? "127.0.0.1", port: opts.endpointPort ?? 0, agentId, internalToken: opts.internalToken, containers: () => containers.values(),
    inProcess: opts.endpointInProcess,
  });
  const cpu = opts.cpu ?? cpus().length;
  const memoryMiB = opts.memoryMiB ?? Math.floor(totalmem() / 1024 / 1024);
  const gpus = opts.gpus ?? { devices: [], simulated: false };
  const usable = gpus.devices.slice(0, opts.faults?.usableGpus ?? gpus.devices.length).map((d) => d.index);
  const ledger = new ResourceLedger({ cpu, memoryMiB, gpuIndices: usable });
  const pricePerHour = opts.pricePerHour ?? (cpu * LOCAL_PRICE_PER_CORE_HOUR + (memoryMiB / 1024) * LOCAL_PRICE_PER_GIB_HOUR);
  const coldStart = new ColdStartEstimate();
  const cancelled = new Map<string, number>();

  const cancelSub = nc.subscribe(Subjects.cancel, {
    callback: (_err, msg) => {
      const callId = msg.string();
      cancelled.set(callId, Date.now());
      for (const c of containers.values()) if (c.runningCalls().includes(callId)) c.cancelCall(callId);
    },
  });
  const pruneCancelled = setInterval(() => {
    for (const [id, at] of cancelled) if (Date.now() - at > CANCEL_MEMORY_MS) cancelled.delete(id);
  }, 60_000);
  // Sandboxes started ahead of demand for the common shape; each holds a little memory in the ledger.
  const warmPool = new WarmPool({
    size: opts.warmPool ?? Limits.defaultWarmPoolSize,
    network: sandboxNetworkOf(undefined),
    dir: join(opts.stateDir, "warm-pool"),
    start: (slot) => startSandbox(warmSandboxSpec(slot, {
      rootfs: image, runnerDir: dirname(runnerPath), runnerDirInSandbox: RUNNER_DIR_IN_SANDBOX, appDirInSandbox: APP_DIR_IN_SANDBOX,
      argv: RUNNER_ARGV, limits: CONTAINER_LIMITS, network: sandboxNetworkOf(undefined), devices: gpus.simulated ? [] : gpuDeviceNodes([]),
    })),
    reserve: (slotId) => {
      try {
        ledger.claim(slotId, { cpu: 0, memoryMiB: WARM_SANDBOX_MEMORY_MIB, gpuIndices: [] });
        return true;
      } catch {
        return false;
      }
    },
    release: (slotId) => ledger.release(slotId),
    onError: (m) => process.emitWarning(m),
  });
  /** Claim a container's resources; pooled sandboxes give theirs back first when that makes room. */
  const claimWithRoom = (containerId: string, want: Claim): void => {
    try {
      ledger.claim(containerId, want);
    } catch (e) {
      if (!(e instanceof InsufficientCapacityError) || warmPool.drain() === 0) throw e;
      ledger.claim(containerId, want);
    }
  };

  const startContainerSandbox = async (cmd: StartContainer, options: ResolvedFunctionOptions): Promise<{ sandbox: SandboxProcess; bundleInSandbox: string; volumes?: ContainerVolumes }> => {
    const bundlePath = await bundles.get(cmd.bundleHash, cmd.bundleUrl);
    // Volumes are materialised before the sandbox starts, writable by the host user it runs as.
    const volumes = Object.keys(cmd.volumes ?? {}).length === 0 ? undefined : await ContainerVolumes.prepare({
      containerId: cmd.containerId, ids: cmd.volumes ?? {}, names: options.volumes ?? {}, root: join(opts.stateDir, "volumes"),
      regionUrl: cmd.bundleUrl, internalToken: opts.internalToken, cache: volumeCache,
      owner: process.getuid?.() === 0 ? { uid: DEFAULT_UNPRIVILEGED_HOST_ID, gid: DEFAULT_UNPRIVILEGED_HOST_ID } : undefined,
    });
    const granted = cmd.gpuIndices.map((i) => gpus.devices[i]);
    const visible = cmd.gpuIndices.join(",");
    // A custom image: mounted lazily, its top-level paths bound over the base (never over the platform's own);
    // a full-root image (Debian, OCI) keeps only the platform's part of the base (see mount-image-root.ts).
    const custom = options.image === undefined ? undefined : await mountImageRoot(customImages, {
      containerId: cmd.containerId, image: options.image, nodeBase: image, regionUrl: cmd.bundleUrl, fallbackCwd: APP_DIR_IN_SANDBOX,
      reserved: [RUNNER_DIR_IN_SANDBOX, APP_DIR_IN_SANDBOX, SANDBOX_NODE_DIR, ...Object.keys(options.volumes ?? {})],
    }).catch(async (e: unknown) => {
      await volumes?.dispose();
      throw e;
    });
    const network = sandboxNetworkOf(options.network);
    const env: Record<string, string> = {
      FERRY_APP: cmd.appName,
      FERRY_FUNCTION: cmd.functionName,
      FERRY_REGION: opts.region,
      FERRY_CLOUD: opts.cloud,
      FERRY_CONTAINER_ID: cmd.containerId,
      FERRY_GPU: granted.length > 0 ? `${granted[0]?.type}:${granted.length}` : "",
      ...(granted.length > 0 ? { CUDA_VISIBLE_DEVICES: visible, NVIDIA_VISIBLE_DEVICES: visible } : {}),
      NODE_ENV: "production",
      // The image's base PATH and `env` steps, then the function's secrets (which win).
      ...custom?.env,
      ...cmd.env,
    };
    // The common shape takes a pre-started sandbox when one waits: only the bundle and the environment are its own.
    if (warmMisfit({ customImage: custom !== undefined, volumes: volumes ? 1 : 0, gpus: granted.length, network, env }, warmPool.network) === undefined) {
      // Checked as a sandbox start checks it (variable names, NUL characters) before a sandbox is given away; execs
      // then get the environment a sandbox started for the container would have (PATH and HOME defaults included).
      const fullEnv = sandboxEnv({ id: cmd.containerId, rootfs: [], argv: RUNNER_ARGV, network, env });
      const warm = await warmPool.take({ containerId: cmd.containerId, bundlePath, env });
      if (warm) {
        sandboxes.trackFunctionSandbox(cmd.containerId, warm, fullEnv);
        return { sandbox: warm, bundleInSandbox: `${APP_DIR_IN_SANDBOX}/app.mjs` };
      }
    }
    const sandbox = releasingOnThrow(custom, () => startSandbox({
      id: cmd.containerId,
      rootfs: custom?.rootfs ?? image,
      readOnlyBinds: [
        { hostPath: dirname(runnerPath), sandboxPath: RUNNER_DIR_IN_SANDBOX },
        { hostPath: dirname(bundlePath), sandboxPath: APP_DIR_IN_SANDBOX },
        ...(volumes?.readOnlyBinds() ?? []),
      ],
      readWriteBinds: volumes?.readWriteBinds(),
      env,
      // On a real GPU node the container sees only its own GPUs' device nodes.
      devices: gpus.simulated ? [] : gpuDeviceNodes(cmd.gpuIndices),
      cwd: custom?.cwd ?? APP_DIR_IN_SANDBOX,
      argv: RUNNER_ARGV,
      // The function's `network` ("outbound" unless it says "none"); the launcher attaches the stack.
      network,
      limits: CONTAINER_LIMITS,
    }));
    sandboxes.trackFunctionSandbox(cmd.containerId, sandbox);
    if (volumes) void sandbox.exited.then(() => volumes.dispose());
    if (custom) void sandbox.exited.then(() => custom.release());
    return { sandbox, bundleInSandbox: `${APP_DIR_IN_SANDBOX}/app.mjs`, volumes };
  };

  let link: RegionLink | undefined;
  const report = (r: ContainerReport) => link?.send({ body: "container", container: r });
  // Sandboxes (`Sandbox.create`) and execs in containers (`ferry container exec`).
  const sandboxes = new SandboxHost({
    nc, region: opts.region, cloud: opts.cloud, stateDir: opts.stateDir, internalToken: opts.internalToken, image, images: customImages, gpus, ledger, bundles,
    report, send: (m) => link?.send(m),
  });

  const onCommand = (command: RegionCommand) => {
    if (sandboxes.handles(command)) return;
    if (command.body === "callForBids") {
      const warm = new Set<string>();
      for (const c of containers.values()) if (c.state === "running" && !c.busy) warm.add(c.functionId);
      link?.send({
        body: "bid",
        bid: composeBid(command.callForBids, {
          pricePerHour,
          // A lying node (fault injection) offers every GPU it registered, usable or not.
          free: opts.faults?.usableGpus === undefined ? ledger.free() : { ...ledger.free(), gpuIndices: gpus.devices.map((d) => d.index).filter((i) => !claimedGpus().has(i)) },
          runningContainers: containers.size + sandboxes.size,
          coldStartMs: coldStart.ms,
          warmFunctions: warm,
          cachedBundles: bundles.cached,
        }),
      });
    } else if (command.body === "start") {
      const cmd = command.start;
      try {
        claimWithRoom(cmd.containerId, { cpu: cmd.cpu, memoryMiB: cmd.memoryMib, gpuIndices: cmd.gpuIndices });
      } catch (e) {
        if (!(e instanceof InsufficientCapacityError)) throw e;
        report({ containerId: cmd.containerId, functionId: cmd.functionId, state: "failed", reason: e.message });
        return;
      }
      const startedAt = Date.now();
      const container = new Container(cmd, {
        js,
        nc,
        startSandbox: startContainerSandbox,
        isCancelled: (callId) => cancelled.has(callId),
        report: (state, reason) => {
          if (state === "running") coldStart.observe(Date.now() - startedAt);
          report({ containerId: cmd.containerId, functionId: cmd.functionId, state, reason });
        },
        log: (stream, line, inputId) => {
          const entry: LogLine = { ts: Date.now(), appId: cmd.appId, functionName: cmd.functionName, containerId: cmd.containerId, inputId, stream, line };
          publishQuietly(nc, Subjects.logs(cmd.appId), JSON.stringify(entry));
        },
      });
      containers.set(cmd.containerId, container);
      void container.run().finally(() => {
        containers.delete(cmd.containerId);
        ledger.release(cmd.containerId);
        // Room freed: a pool that could not fill (or was drained for a start) refills.
        warmPool.fill();
      });
    } else if (command.body === "stop") {
      containers.get(command.stop.containerId)?.stop();
    }
  };

  const claimedGpus = () => {
    const free = new Set(ledger.free().gpuIndices);
    return new Set(usable.filter((i) => !free.has(i)));
  };
  link = new RegionLink(opts.regionAddress, {
    agentId, region: opts.region, cloud: opts.cloud, version: "0.1.0",
    capacity: { cpu, memoryMib: memoryMiB, gpus: gpus.devices.map((d) => d.type) },
    cloudRegion: opts.cloudRegion ?? "", zone: opts.zone ?? "", fabric: opts.fabric ?? "",
    pricePerHour, instanceType: opts.instanceType ?? "", simulatedGpus: gpus.simulated, providerNodeId: opts.providerNodeId ?? "",
    address: opts.advertiseAddress ?? "127.0.0.1",
    endpointPort: endpoints.port,
  }, onCommand);
  const heartbeat = setInterval(() => {
    link?.send({
      body: "heartbeat",
      heartbeat: {
        containers: [
          ...[...containers.values()].map((c) => {
            // A container that served fast path requests since the last beat is not idle, even if none is in hand now.
            const fastServed = c.takeFastServed();
            return { containerId: c.id, functionId: c.functionId, state: c.state, reason: c.state === "running" && !c.busy && fastServed === 0 ? "idle" : "", fastInFlight: c.fastInFlight, fastServed };
          }),
          ...sandboxes.reports(),
        ],
      },
    });
  }, 1_000);
  await link.registered;

  return {
    agentId,
    containers,
    imageStats: () => customImages.stats(),
    images: customImages,
    warmPool,
    endpoints,
    close: async () => {
      clearInterval(heartbeat);
      await endpoints.close();
      clearInterval(pruneCancelled);
      cancelSub.unsubscribe();
      // Classes' `exit` hooks run first (within their limit), the API bridge still up for them.
      await Promise.all([...containers.values()].map((c) => c.kill(SHUTDOWN_GRACE_MS)));
      sandboxes.killAll();
      await warmPool.close();
      await customImages.close();
      link?.close();
      await nc.drain().catch(() => undefined);
    },
  };
};
