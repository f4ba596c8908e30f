import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LaunchedNode, NodeLauncher, NodeLaunchSpec } from "@ferry/regions";

/** The `ferry` CLI that runs `ferry agent`. */
const FERRY_BIN = fileURLToPath(new URL("../../bin/ferry.mjs", import.meta.url));
/** How long a new node's agent may take to register before the launch counts as failed. */
export const AGENT_START_TIMEOUT_MS = 30_000;
/** How long a stopping agent gets to stop its containers before it is killed. */
const AGENT_STOP_GRACE_MS = 5_000;

export interface AgentProcessLauncherOptions {
  readonly region: string;
  readonly regionAddress: () => string;
  readonly natsUrl: string;
  readonly internalToken: string;
}

const exited = (child: ChildProcess) => new Promise<void>((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) resolve();
  else child.once("exit", () => resolve());
});

/**
 * Launches each provisioned node as a real `ferry agent` process on this machine, with the
 * node's shape: its (simulated) GPUs, cores, memory, cloud, zone and list price. Used by the
 * local and simulated providers of `ferry up`.
 *
 * @example
 * ```ts
 * const launchNode = agentProcessLauncher({ region: "local", regionAddress: () => addr, natsUrl, internalToken });
 * ```
 */
export const agentProcessLauncher = (opts: AgentProcessLauncherOptions): NodeLauncher => async (spec: NodeLaunchSpec): Promise<LaunchedNode> => {
  const stateDir = await mkdtemp(join(tmpdir(), `ferry-node-${spec.name.slice(0, 40)}-`));
  await chmod(stateDir, 0o755);
  const args = [
    FERRY_BIN, "agent", "--region", opts.region, "--region-address", opts.regionAddress(), "--nats", opts.natsUrl, "--state-dir", stateDir,
    "--cloud", spec.cloud, "--cloud-region", spec.cloudRegion, "--instance-type", spec.instanceType,
    "--price-per-hour", String(spec.pricePerHour), "--provider-node-id", spec.name,
    "--cpu", String(spec.vCpus), "--memory", String(spec.memoryMiB),
    ...(spec.zone ? ["--zone", spec.zone] : []),
    ...(spec.gpus ? ["--gpus", spec.gpus] : []),
  ];
  const child = spawn(process.execPath, args, { env: { ...process.env, FERRY_INTERNAL_TOKEN: opts.internalToken }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${spec.name}: agent did not register within ${AGENT_START_TIMEOUT_MS} ms`)), AGENT_START_TIMEOUT_MS);
      child.stderr!.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4096);
        if (stderr.includes("registered with")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`node ${spec.name}: agent exited with ${code}: ${stderr.trim()}`));
      });
    });
  } catch (e) {
    child.kill("SIGKILL");
    await rm(stateDir, { recursive: true, force: true });
    throw e;
  }
  return {
    nodeId: spec.name,
    stop: async () => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), AGENT_STOP_GRACE_MS);
      await exited(child);
      clearTimeout(timer);
      await rm(stateDir, { recursive: true, force: true });
    },
  };
};
