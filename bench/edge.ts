// Warm web endpoint throughput and latency through the edge: requests/s, p50 and p99 of a
// deployed `auth: "none"` GET endpoint (through the edge to a container and back), against a bare Hono
// app on Node answering the same body, both driven by the same client in this run: C concurrent
// keep-alive connections for S seconds each. Warm requests take the fast path (edge → agent → container
// over one multiplexed connection per agent); the run says how many did.
import { request, Agent } from "node:http";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { FerryClient, setClientConfig } from "ferry";
import { startLocalPlatform, type LocalPlatform } from "ferry/platform";
import { listenHttp, type ListeningHttp } from "@ferry/core/node";
import { deployFile, type DeployedFile } from "../sdk/src/cli/deploy-file.ts";
import { cpuDelta, cpuSnapshot, finish, intArg, log, percentile, round } from "./harness.ts";

const EDGE_APP = fileURLToPath(new URL("./apps/edge-app.ts", import.meta.url));

interface LoadResult { readonly rps: number; readonly p50_ms: number; readonly p99_ms: number; readonly requests: number; readonly errors: number }

/** One GET on a keep-alive connection; resolves with its status once the body is read. */
const get = (url: URL, agent: Agent): Promise<number> => new Promise((resolve, reject) => {
  const req = request(url, { agent, method: "GET" }, (res) => {
    res.on("data", () => {});
    res.on("end", () => resolve(res.statusCode ?? 0));
    res.on("error", reject);
  });
  req.on("error", reject);
  req.end();
});

/** `connections` loops, each sending GETs back to back for `seconds`. */
const drive = async (url: string, connections: number, seconds: number): Promise<LoadResult> => {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(url);
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      const status = await get(target, agent).catch(() => 0);
      if (status !== 200) errors++;
      latencies.push(performance.now() - s);
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  return { rps: round(latencies.length / elapsed, 1), p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)), requests: latencies.length, errors };
};

export const main = async (args: ReadonlyArray<string>): Promise<void> => {
  const connections = intArg(args, "connections", 32);
  const seconds = intArg(args, "seconds", 5);
  // Warm containers of the endpoint (its requests spread over them, least loaded first).
  const containers = intArg(args, "containers", 1);
  process.env.FERRY_BENCH_EDGE_CONTAINERS = String(containers);
  let platform: LocalPlatform | undefined;
  let deployed: DeployedFile | undefined;
  let bare: ListeningHttp | undefined;
  try {
    platform = await startLocalPlatform({ agents: 1 });
    const config = { url: platform.url, token: platform.token };
    setClientConfig(config);
    deployed = await deployFile(new FerryClient(config), EDGE_APP, { mode: "deployed", onProgress: (l) => log(l) });
    const url = `${platform.url}/default/bench-edge/hello/`;
    const hono = new Hono().get("/", (c) => c.json({ ok: true }));
    bare = await listenHttp(hono.fetch, "127.0.0.1", 0);
    const bareUrl = `${bare.url}/`;

    log(`warm-up: the first request starts the container; then 2 s of load on each`);
    const c0 = performance.now();
    const first = await fetch(url);
    if (first.status !== 200) throw new Error(`the endpoint answered ${first.status}: ${await first.text()}`);
    log(`first request took ${(performance.now() - c0).toFixed(0)} ms`);
    await drive(url, connections, 2);
    await drive(bareUrl, connections, 2);

    log(`measuring: ${connections} keep-alive connections for ${seconds} s, endpoint (${containers} warm container${containers === 1 ? "" : "s"}) then bare Hono`);
    const fastBefore = platform.agents.reduce((n, a) => n + a.endpoints.served, 0);
    const inProcessBefore = platform.agents.reduce((n, a) => n + a.endpoints.inProcess, 0);
    const s0 = cpuSnapshot();
    const edge = await drive(url, connections, seconds);
    const s1 = cpuSnapshot();
    const fast = platform.agents.reduce((n, a) => n + a.endpoints.served, 0) - fastBefore;
    const inProcess = platform.agents.reduce((n, a) => n + a.endpoints.inProcess, 0) - inProcessBefore;
    log(`warm fast path (edge → agent → container): ${fast} of ${edge.requests} endpoint requests (${inProcess} over the in-process link); the rest took the queue`);
    const base = await drive(bareUrl, connections, seconds);
    const s2 = cpuSnapshot();
    const perRequest = (d: Record<string, number>, n: number) =>
      Object.fromEntries(Object.entries(d).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / n)]));
    log(`CPU ms per endpoint request by process: ${JSON.stringify(perRequest(cpuDelta(s0, s1), edge.requests))}`);
    log(`CPU ms per bare request by process: ${JSON.stringify(perRequest(cpuDelta(s1, s2), base.requests))}`);
    log(`endpoint  ${edge.rps} req/s  p50 ${edge.p50_ms} ms  p99 ${edge.p99_ms} ms  (${edge.requests} requests, ${edge.errors} errors)`);
    log(`bare Hono ${base.rps} req/s  p50 ${base.p50_ms} ms  p99 ${base.p99_ms} ms  (${base.requests} requests, ${base.errors} errors)`);
    log(`endpoint/bare throughput: ${(edge.rps / base.rps).toFixed(3)} (target ≥ 0.5)`);
    await bare.close();
    bare = undefined;
    await deployed.dispose();
    deployed = undefined;
    setClientConfig(undefined);
    await platform.stop();
    platform = undefined;
    await finish({
      bench: "edge", rps: edge.rps, p50_ms: edge.p50_ms, p99_ms: edge.p99_ms,
      connections, seconds, containers, requests: edge.requests, errors: edge.errors, fast_path_requests: fast, in_process_requests: inProcess,
      baseline: { rps: base.rps, p50_ms: base.p50_ms, p99_ms: base.p99_ms },
    });
  } finally {
    await bare?.close().catch(() => undefined);
    await deployed?.dispose().catch(() => undefined);
    await platform?.stop().catch(() => undefined);
  }
};
