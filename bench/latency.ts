// Warm `.remote()` latency of a no-op (edge → region → agent → sandbox and back) against a bare
// loopback HTTP round trip made with the same `fetch` the SDK uses, both measured in this run.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cpuDelta, cpuSnapshot, finish, intArg, log, percentile, round, startBenchPlatform, type BenchPlatform } from "./harness.ts";

/** A `node:http` server answering a tiny JSON POST, the floor any HTTP API call pays. */
const startBaselineServer = async (): Promise<{ url: string; server: Server }> => {
  const reply = Buffer.from(JSON.stringify({ ok: true, value: null }));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      JSON.parse(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(200, { "content-type": "application/json", "content-length": reply.length });
      res.end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/echo`, server };
};

/** Milliseconds of each of `n` sequential awaits of `fn`. */
const timeEach = async (n: number, fn: () => Promise<unknown>, into: number[]): Promise<void> => {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    into.push(performance.now() - t0);
  }
};

const stats = (xs: ReadonlyArray<number>) => ({
  p50_ms: round(percentile(xs, 50)),
  p99_ms: round(percentile(xs, 99)),
  mean_ms: round(xs.reduce((a, b) => a + b, 0) / xs.length),
  min_ms: round(Math.min(...xs)),
  max_ms: round(Math.max(...xs)),
});

export const main = async (args: ReadonlyArray<string>): Promise<void> => {
  const samples = intArg(args, "samples", 1000);
  const warmup = intArg(args, "warmup", 50);
  const block = 100;
  let t: BenchPlatform | undefined;
  let baseline: { url: string; server: Server } | undefined;
  try {
    t = await startBenchPlatform();
    baseline = await startBaselineServer();
    const { noop } = t.fns;
    const agent = t.platform.agents[0];
    const body = JSON.stringify({ inputs: [{ t: "null" }], close: true });
    const bare = async () => {
      const res = await fetch(baseline!.url, {
        method: "POST",
        headers: { authorization: "Bearer x", "content-type": "application/json" },
        body,
      });
      return await res.json();
    };

    log(`warm-up: ${warmup} remote calls (the first starts a container), ${warmup} bare HTTP calls`);
    const w0 = performance.now();
    const first = await noop.remote();
    if (first !== null) throw new Error(`noop.remote() returned ${JSON.stringify(first)}, expected null`);
    log(`first (cold) call took ${(performance.now() - w0).toFixed(1)} ms`);
    await timeEach(warmup - 1, () => noop.remote(), []);
    await timeEach(warmup, bare, []);
    const containersBefore = [...agent.containers.keys()];

    // Alternate blocks so drift in machine load touches both series alike.
    const remote: number[] = [];
    const http: number[] = [];
    log(`measuring ${samples} sequential warm remote calls and ${samples} bare HTTP calls, in blocks of ${block}`);
    // CPU each process spent per call, summed over the blocks of each kind.
    const cpuRemote: Record<string, number> = {};
    const cpuBare: Record<string, number> = {};
    const addInto = (into: Record<string, number>, d: Record<string, number>) => {
      for (const [k, v] of Object.entries(d)) into[k] = (into[k] ?? 0) + v;
    };
    while (remote.length < samples) {
      const n = Math.min(block, samples - remote.length);
      const c0 = cpuSnapshot();
      await timeEach(n, () => noop.remote(), remote);
      const c1 = cpuSnapshot();
      await timeEach(n, bare, http);
      const c2 = cpuSnapshot();
      addInto(cpuRemote, cpuDelta(c0, c1));
      addInto(cpuBare, cpuDelta(c1, c2));
      if (remote.length % 500 === 0 || remote.length === samples) log(`${remote.length}/${samples}`);
    }
    const containersAfter = [...agent.containers.keys()];
    const cold = containersAfter.some((c) => !containersBefore.includes(c));
    if (cold) log(`warning: a container started during measurement (before: ${containersBefore.join(",")}, after: ${containersAfter.join(",")})`);

    const r = stats(remote);
    const b = stats(http);
    const perCall = (cpu: Record<string, number>) =>
      Object.fromEntries(Object.entries(cpu).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]).map(([k, v]) => [k, round(v / samples)]));
    const cpuPerRemote = perCall(cpuRemote);
    const cpuPerBare = perCall(cpuBare);
    log(`CPU ms per remote call by process: ${JSON.stringify(cpuPerRemote)}`);
    log(`CPU ms per bare HTTP call by process: ${JSON.stringify(cpuPerBare)}`);
    log(`remote  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  mean ${r.mean_ms} ms`);
    log(`bare    p50 ${b.p50_ms} ms  p99 ${b.p99_ms} ms  mean ${b.mean_ms} ms`);
    log(`overhead over bare HTTP at p50: ${(r.p50_ms - b.p50_ms).toFixed(3)} ms (target: p50 <= 3 ms)`);
    log("stopping platform");
    const closed = new Promise<void>((resolve) => baseline!.server.close(() => resolve()));
    baseline.server.closeAllConnections();
    await closed;
    baseline = undefined;
    await t.stop();
    t = undefined;
    await finish({
      bench: "latency",
      ...r,
      samples,
      warmup,
      containers: containersAfter.length,
      container_started_during_measurement: cold,
      cpu_ms_per_call: cpuPerRemote,
      target_p50_ms: 3,
      target_met: r.p50_ms <= 3,
      baseline: { ...b, cpu_ms_per_call: cpuPerBare },
    });
  } finally {
    baseline?.server.closeAllConnections();
    baseline?.server.close();
    await t?.stop().catch(() => undefined);
  }
};
