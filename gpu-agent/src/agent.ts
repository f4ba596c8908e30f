import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { realpathSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { jetstream } from "@nats-io/jetstream";
import { newId, Subjects, type LogLine, type ResolvedFunctionOptions } from "@ferry/core";
import { connectNats, type ContainerReport, type RegionCommand, type StartContainer } from "@ferry/core/node";
import { BundleCache } from "./bundles/bundle-cache.ts";
import { Container, type SandboxProcess } from "./containers/container.ts";
import { RegionLink } from "./region-link/region-link.ts";
import { buildRunner } from "./runner/build-runner.ts";
import { defaultNodeImageBinds, startSandbox, sweepStaleCgroups, SANDBOX_NODE_DIR } from "./sandbox/index.ts";

/** Where the runner and the app bundle appear inside every sandbox. */
const RUNNER_DIR_IN_SANDBOX = "/opt/ferry/runner";
const APP_DIR_IN_SANDBOX = "/opt/ferry/app";
/** Cancelled call ids are remembered this long (a call's inputs cannot outlive it). */
const CANCEL_MEMORY_MS = 24 * 3600 * 1000;

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
}

export interface RunningAgent {
  readonly agentId: string;
  readonly containers: ReadonlyMap<string, Container>;
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
  // Sandboxes run as an unprivileged host user, which must reach the runner and bundles here.
  await mkdir(opts.stateDir, { recursive: true });
  await chmod(opts.stateDir, 0o755);
  // Empty cgroups left by an agent that died (its sandboxes died with it).
  sweepStaleCgroups();
  const nc = await connectNats(opts.natsUrl, `ferry-agent-${agentId}`);
  const js = jetstream(nc);
  const runnerPath = await buildRunner(join(opts.stateDir, "runner"));
  const bundles = new BundleCache(join(opts.stateDir, "bundles"), opts.internalToken);
  const nodeDir = dirname(realpathSync(process.execPath));
  const image = defaultNodeImageBinds(nodeDir, { generatedDir: join(opts.stateDir, "image-etc") });
  const containers = new Map<string, Container>();
  const cancelled = new Map<string, number>();

  const cancelSub = nc.subscribe(Subjects.cancel, {
    callback: (_err, msg) => {
      const callId = msg.string();
      cancelled.set(callId, Date.now());
      for (const c of containers.values()) if (c.runningCall() === callId) c.cancelRunning();
    },
  });
  const pruneCancelled = setInterval(() => {
    for (const [id, at] of cancelled) if (Date.now() - at > CANCEL_MEMORY_MS) cancelled.delete(id);
  }, 60_000);

  const startContainerSandbox = async (cmd: StartContainer, options: ResolvedFunctionOptions): Promise<{ sandbox: SandboxProcess; bundleInSandbox: string }> => {
    const bundlePath = await bundles.get(cmd.bundleHash, cmd.bundleUrl);
    const sandbox = startSandbox({
      id: cmd.containerId,
      rootfs: image,
      readOnlyBinds: [
        { hostPath: dirname(runnerPath), sandboxPath: RUNNER_DIR_IN_SANDBOX },
        { hostPath: dirname(bundlePath), sandboxPath: APP_DIR_IN_SANDBOX },
      ],
      env: {
        FERRY_APP: cmd.appName,
        FERRY_FUNCTION: cmd.functionName,
        FERRY_REGION: opts.region,
        FERRY_CLOUD: opts.cloud,
        FERRY_CONTAINER_ID: cmd.containerId,
        FERRY_GPU: "",
        NODE_ENV: "production",
      },
      cwd: APP_DIR_IN_SANDBOX,
      argv: [`${SANDBOX_NODE_DIR}/node`, "--disable-warning=ExperimentalWarning", `${RUNNER_DIR_IN_SANDBOX}/runner.mjs`],
      network: "none",
      // `memory` is a request used for placement, as on Modal; only runaway process counts are capped.
      limits: { pids: 512 },
    });
    return { sandbox, bundleInSandbox: `${APP_DIR_IN_SANDBOX}/app.mjs` };
  };

  let link: RegionLink | undefined;
  const report = (r: ContainerReport) => link?.send({ body: "container", container: r });

  const onCommand = (command: RegionCommand) => {
    if (command.body === "start") {
      const cmd = command.start;
      const container = new Container(cmd, {
        js,
        startSandbox: startContainerSandbox,
        isCancelled: (callId) => cancelled.has(callId),
        report: (state, reason) => report({ containerId: cmd.containerId, functionId: cmd.functionId, state, reason }),
        log: (stream, line, inputId) => {
          const entry: LogLine = { ts: Date.now(), appId: cmd.appId, functionName: cmd.functionName, containerId: cmd.containerId, inputId, stream, line };
          nc.publish(Subjects.logs(cmd.appId), JSON.stringify(entry));
        },
      });
      containers.set(cmd.containerId, container);
      void container.run().finally(() => containers.delete(cmd.containerId));
    } else if (command.body === "stop") {
      containers.get(command.stop.containerId)?.stop();
    }
  };

  link = new RegionLink(opts.regionAddress, {
    agentId, region: opts.region, cloud: opts.cloud, version: "0.1.0",
    capacity: { cpu: opts.cpu ?? cpus().length, memoryMib: opts.memoryMiB ?? Math.floor(totalmem() / 1024 / 1024), gpus: [] },
  }, onCommand);
  const heartbeat = setInterval(() => {
    link?.send({
      body: "heartbeat",
      heartbeat: {
        containers: [...containers.values()].map((c) => ({ containerId: c.id, functionId: c.functionId, state: c.state, reason: c.state === "running" && !c.busy ? "idle" : "" })),
      },
    });
  }, 1_000);
  await link.registered;

  return {
    agentId,
    containers,
    close: async () => {
      clearInterval(heartbeat);
      clearInterval(pruneCancelled);
      cancelSub.unsubscribe();
      for (const c of containers.values()) c.kill();
      link?.close();
      await nc.drain().catch(() => undefined);
    },
  };
};
