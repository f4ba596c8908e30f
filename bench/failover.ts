// `npm run bench -- failover`: two regions (and a witness in the state cluster) on this machine.
// (1) Replication: a write through one region's replica (its SQL endpoint), then the time until
//     another region's replica shows it; p50/p99 over --writes samples.
// (2) Failover: calls and state writes run continuously through the edge; the region serving the
//     calls is SIGKILLed (its region process, its NATS and its state-cluster member); recovery is
//     the time from the kill to the first call answered by another region, and every acknowledged
//     write is then looked for in the surviving region's replica.
import { fileURLToPath } from "node:url";
import { createClient } from "@libsql/client/web";
import { FerryClient, setClientConfig } from "ferry";
import { startMultiRegionPlatform } from "../sdk/src/platform/multi-region-platform.ts";
import { deployFile } from "../sdk/src/cli/deploy-file.ts";
import { finish, intArg, log, percentile, round } from "./harness.ts";

const APP = fileURLToPath(new URL("./apps/region-bench-app.ts", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const main = async (args: ReadonlyArray<string>): Promise<void> => {
  const writes = intArg(args, "writes", 200);
  const platform = await startMultiRegionPlatform({ regions: ["us-east", "eu-west"], agentsPerRegion: 1 });
  setClientConfig({ url: platform.url, token: platform.token });
  const client = new FerryClient({ url: platform.url, token: platform.token });
  try {
    const d = await deployFile(client, APP, { mode: "deployed" });
    const where = d.response.functions.find((f) => f.name === "where")!.id;
    const call = async (region?: string): Promise<string | undefined> => {
      const res = await fetch(`${platform.url}/v1/functions/${where}/calls`, {
        method: "POST",
        headers: { authorization: `Bearer ${platform.token}`, "content-type": "application/json", ...(region ? { "x-ferry-region": region } : {}) },
        body: JSON.stringify({ inputs: [1], waitMs: 30_000 }),
      }).catch(() => undefined);
      if (res?.status !== 200) return undefined;
      const text = await res.text();
      return ["us-east", "eu-west"].find((r) => text.includes(r));
    };
    for (const r of ["us-east", "eu-west"]) if ((await call(r)) !== r) throw new Error(`warm-up call in ${r} failed`);

    // (1) Replication lag between two regions' replicas.
    const [a, b] = platform.regions.map((r) => createClient({ url: r.httpUrl, authToken: platform.internalToken }));
    await a!.execute("CREATE TABLE IF NOT EXISTS bench_replication (id INTEGER PRIMARY KEY, at REAL)");
    const lags: number[] = [];
    for (let i = 0; i < writes; i++) {
      await a!.execute({ sql: "INSERT INTO bench_replication (id, at) VALUES (?, ?)", args: [i, Date.now()] });
      const acked = performance.now();
      for (;;) {
        const rs = await b!.execute({ sql: "SELECT 1 FROM bench_replication WHERE id = ?", args: [i] });
        if (rs.rows.length > 0) break;
        await sleep(1);
      }
      lags.push((performance.now() - acked) / 1000);
    }
    a!.close();
    b!.close();
    log(`replication: p50 ${(percentile(lags, 50) * 1000).toFixed(1)} ms, p99 ${(percentile(lags, 99) * 1000).toFixed(1)} ms over ${writes} writes`);

    // (2) Kill the region serving calls, mid-traffic.
    const victim = (await call()) ?? "us-east";
    const survivor = victim === "us-east" ? "eu-west" : "us-east";
    const acked: string[] = [];
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        const name = `failover-${n++}`;
        const res = await fetch(`${platform.url}/v1/tokens`, {
          method: "POST", headers: { authorization: `Bearer ${platform.token}`, "content-type": "application/json" }, body: JSON.stringify({ name }),
        }).catch(() => undefined);
        if (res?.status === 201) acked.push(name);
        await res?.body?.cancel();
        await sleep(10);
      }
    })();
    await sleep(500);
    const killedAt = performance.now();
    platform.region(victim).kill();
    log(`killed ${victim}`);
    let recoveredAt: number | undefined;
    let failedCalls = 0;
    while (recoveredAt === undefined && performance.now() - killedAt < 30_000) {
      const served = await call();
      if (served === survivor) recoveredAt = performance.now();
      else failedCalls++;
    }
    await sleep(1_000);
    writing = false;
    await writer;
    // Compare once the survivor's replica has applied as much of the log as the edge's.
    const target = platform.edgeReplica.appliedSeq;
    const caughtUpBy = performance.now() + 30_000;
    for (;;) {
      const health = await fetch(`${platform.region(survivor).httpUrl}/internal/health`, { headers: { "x-ferry-internal-token": platform.internalToken } })
        .then((r) => r.json() as Promise<{ stateSeq?: number }>).catch(() => ({ stateSeq: 0 }));
      if ((health.stateSeq ?? 0) >= target || performance.now() > caughtUpBy) break;
      await sleep(50);
    }
    const survivorDb = createClient({ url: platform.region(survivor).httpUrl, authToken: platform.internalToken });
    const rs = await survivorDb.execute("SELECT name FROM tokens WHERE name LIKE 'failover-%'");
    survivorDb.close();
    const stored = new Set(rs.rows.map((r) => String(r.name)));
    const lostNames = acked.filter((name) => !stored.has(name));
    const lost = lostNames.length;
    if (lost > 0) {
      const health = await fetch(`${platform.region(survivor).httpUrl}/internal/health`, { headers: { "x-ferry-internal-token": platform.internalToken } }).then((r) => r.text());
      log(`lost ${lostNames.join(", ")}; edge applied ${platform.edgeReplica.appliedSeq}, survivor ${health}`);
    }
    const recovery = recoveredAt === undefined ? null : (recoveredAt - killedAt) / 1000;
    log(`recovery ${recovery === null ? "none in 30 s" : `${(recovery * 1000).toFixed(0)} ms`} (${failedCalls} calls failed meanwhile); ${acked.length} writes acknowledged, ${lost} lost`);
    await d.dispose().catch(() => undefined);
    setClientConfig(undefined);
    await platform.stop();
    await finish({
      bench: "failover",
      recovery_s: recovery === null ? null : round(recovery),
      lost_writes: lost,
      replication_p50_s: round(percentile(lags, 50), 4),
      replication_p99_s: round(percentile(lags, 99), 4),
      acknowledged_writes: acked.length,
      failed_calls_during_gap: failedCalls,
      killed: victim,
      targets: { recovery_s: 2, lost_writes: 0, replication_p99_s: 1 },
    });
  } finally {
    setClientConfig(undefined);
    await platform.stop();
  }
};
