import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";

/** Largest NATS message: above `Limits.maxMessageBytes` so a full batch always fits. */
export const NATS_MAX_PAYLOAD = "8MB";
const READY_TIMEOUT_MS = 15_000;
const LISTEN_LINE = /Listening for client connections on ([0-9.]+):(\d+)/;

/** Debian installs nats-server in /usr/sbin, which is not on an ordinary user's PATH. */
const FALLBACK_BINARY = "/usr/sbin/nats-server";

/** `nats-server` from PATH, else Debian's location. */
export const findNatsServer = (): string => {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, "nats-server"))) return join(dir, "nats-server");
  }
  return FALLBACK_BINARY;
};

export interface RunningNats {
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** A clustered server's place in its cluster (JetStream clustering needs a name and routes). */
export interface NatsClusterMember {
  /** Unique among the cluster's servers. */
  readonly serverName: string;
  readonly clusterName: string;
  /** This server's route port (known in advance: the other members' routes name it). */
  readonly routePort: number;
  /** Every member's route port, this one's included. */
  readonly routePorts: ReadonlyArray<number>;
}

/** Options of `startNatsServer`. */
export interface NatsServerOptions {
  /** Client port; a free one when left out. */
  readonly port?: number;
  readonly binary?: string;
  /** Join a JetStream cluster (see infra/nats/ for the production layout). */
  readonly cluster?: NatsClusterMember;
}

/** The configuration file of one local server (the layout infra/nats/ documents for production). */
export const natsConfig = (dir: string, opts: NatsServerOptions): string => [
  `listen: 127.0.0.1:${opts.port ?? -1}`,
  `max_payload: ${NATS_MAX_PAYLOAD}`,
  ...(opts.cluster ? [`server_name: ${opts.cluster.serverName}`] : []),
  `jetstream { store_dir: "${join(dir, "jetstream")}", max_memory_store: 256MB, max_file_store: 8GB }`,
  ...(opts.cluster ? [
    `cluster { name: ${opts.cluster.clusterName}, listen: 127.0.0.1:${opts.cluster.routePort}, routes: [${
      opts.cluster.routePorts.filter((p) => p !== opts.cluster!.routePort).map((p) => `nats-route://127.0.0.1:${p}`).join(", ")}] }`,
  ] : []),
  "",
].join("\n");

/**
 * Start a real `nats-server` with JetStream, storing in `dir`, on a free loopback port (the
 * server picks it; we read it from its log, so there is no race for the port).
 */
export const startNatsServer = async (dir: string, opts: NatsServerOptions = {}): Promise<RunningNats> => {
  await mkdir(join(dir, "jetstream"), { recursive: true });
  const config = join(dir, "nats.conf");
  await writeFile(config, natsConfig(dir, opts));
  const child = spawn(opts.binary ?? findNatsServer(), ["-c", config], { stdio: ["ignore", "pipe", "pipe"] });
  const url = await new Promise<string>((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`nats-server did not start in ${READY_TIMEOUT_MS} ms:\n${log}`)), READY_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const m = LISTEN_LINE.exec(log);
      if (m && /Server is ready/.test(log)) {
        clearTimeout(timer);
        resolve(`nats://${m[1]}:${m[2]}`);
      }
    };
    child.stderr!.on("data", onData);
    child.stdout!.on("data", onData);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start nats-server (is it installed? apt-get install nats-server): ${e.message}`));
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with code ${code}:\n${log}`));
    });
  });
  child.stderr!.resume();
  child.stdout!.resume();
  return {
    url,
    process: child,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 3_000).unref();
    }),
  };
};
