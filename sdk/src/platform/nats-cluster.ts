import { createServer } from "node:net";
import { join } from "node:path";
import { connectNats } from "@ferry/core/node";
import { startNatsServer, type RunningNats } from "./nats-server.ts";

/** A running JetStream cluster of local `nats-server` processes. */
export interface RunningNatsCluster {
  /** The members as started; a restarted member replaces its entry. */
  readonly members: ReadonlyArray<RunningNats & { readonly name: string }>;
  /** Start a stopped (or killed) member again on its ports and store: it rejoins and catches up. */
  restart(name: string): Promise<void>;
  /** Every member's client URL, comma-separated (what a client connects with to survive one loss). */
  readonly urls: string;
  stop(): Promise<void>;
}

/** A free loopback TCP port (route ports must be known before the servers that name them start). */
export const freeLoopbackPort = (): Promise<number> => new Promise((resolve, reject) => {
  const server = createServer();
  server.once("error", reject);
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    server.close(() => typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")));
  });
});

/**
 * Start one `nats-server` per name, joined by routes into one JetStream cluster `clusterName`,
 * each storing under `dir/<name>`. Members start in parallel: JetStream elects its meta leader once
 * a majority is up.
 *
 * @example
 * ```ts
 * const cluster = await startNatsCluster(dir, "ferry-state", ["us-east", "eu-west", "witness"]);
 * const nc = await connectNats(cluster.urls, "me");
 * ```
 */
export const startNatsCluster = async (dir: string, clusterName: string, names: ReadonlyArray<string>): Promise<RunningNatsCluster> => {
  const routePorts: number[] = [];
  for (const _ of names) routePorts.push(await freeLoopbackPort());
  const clientPorts: number[] = [];
  for (const _ of names) clientPorts.push(await freeLoopbackPort());
  const startMember = (i: number) => startNatsServer(join(dir, names[i]!), {
    port: clientPorts[i], cluster: { serverName: names[i]!, clusterName, routePort: routePorts[i]!, routePorts },
  }).then((s) => Object.assign(s, { name: names[i]! }));
  const started = await Promise.allSettled(names.map((_, i) => startMember(i)));
  const members = started.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  const stop = async () => {
    await Promise.all(members.map((m) => m.stop()));
  };
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await stop();
    throw (failed as PromiseRejectedResult).reason;
  }
  const urls = members.map((m) => m.url).join(",");
  try {
    await waitForJetStream(urls);
  } catch (e) {
    await stop();
    throw e;
  }
  const restart = async (name: string) => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`no member ${name} (members: ${names.join(", ")})`);
    const member = members.find((m) => m.name === name);
    if (member) await member.stop();
    const again = await startMember(i);
    members.splice(members.findIndex((m) => m.name === name), 1, again);
  };
  return { members, urls, stop, restart };
};

/** How long a new cluster may take to elect its JetStream meta leader. */
const JETSTREAM_READY_TIMEOUT_MS = 30_000;

/** Resolves once the cluster's JetStream answers account requests (its meta leader is elected). */
export const waitForJetStream = async (urls: string): Promise<void> => {
  const nc = await connectNats(urls, "ferry-cluster-ready");
  const deadline = Date.now() + JETSTREAM_READY_TIMEOUT_MS;
  let last = "";
  try {
    while (Date.now() < deadline) {
      try {
        const reply = await nc.request("$JS.API.INFO", "", { timeout: 1_000 });
        const info = JSON.parse(reply.string()) as { error?: { description?: string } };
        if (info.error === undefined) return;
        last = info.error.description ?? "error";
      } catch (e) {
        last = String(e);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the NATS cluster at ${urls} did not start JetStream within ${JETSTREAM_READY_TIMEOUT_MS} ms: ${last}`);
  } finally {
    await nc.close().catch(() => undefined);
  }
};
