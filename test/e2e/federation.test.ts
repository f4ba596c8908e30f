/**
 * Several regions on one machine, each with its own NATS and region process, the state replicated
 * through the state cluster's log: routing, region-targeted deploys, region list, and a region
 * killed mid-traffic (real processes SIGKILLed).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dict, FerryClient, Queue, setClientConfig } from "ferry";
import { startMultiRegionPlatform, type MultiRegionPlatform } from "../../sdk/src/platform/multi-region-platform.ts";
import { deployFile } from "../../sdk/src/cli/deploy-file.ts";
import { REPO_ROOT, runCli } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";

const REGION_APP = join(REPO_ROOT, "test/fixtures/apps/region-app.ts");
let platform: MultiRegionPlatform;
let client: FerryClient;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  platform = await startMultiRegionPlatform({ regions: ["us-east", "eu-west"], agentsPerRegion: 1 });
  const config = { url: platform.url, token: platform.token };
  setClientConfig(config);
  client = new FerryClient(config);
  env = { ...process.env, FERRY_URL: platform.url, FERRY_TOKEN: platform.token };
}, 120_000);

afterAll(async () => {
  setClientConfig(undefined);
  await platform?.stop();
}, 60_000);

const callIn = async (functionId: string, input: unknown, region?: string): Promise<Response> =>
  fetch(`${platform.url}/v1/functions/${functionId}/calls`, {
    method: "POST",
    headers: { authorization: `Bearer ${platform.token}`, "content-type": "application/json", ...(region ? { "x-ferry-region": region } : {}) },
    body: JSON.stringify({ inputs: [input], waitMs: 30_000 }),
  });

describe("federation", () => {
  it("two regions run with their own processes, and `ferry region list` shows both up with a latency", async () => {
    const r = await runCli(["region", "list", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const regions = JSON.parse(r.stdout) as Array<{ name: string; health: string; latencyMs: number | null }>;
    expect(regions.map((x) => x.name).sort()).toEqual(["eu-west", "us-east"]);
    for (const x of regions) {
      expect(x.health).toBe("up");
      expect(x.latencyMs).toBeGreaterThan(0);
    }
    expect(new Set(platform.regions.map((x) => x.process.process.pid)).size).toBe(2);
  }, 30_000);

  it("state written through the edge is applied by every region's replica", async () => {
    const res = await fetch(`${platform.url}/v1/tokens`, {
      method: "POST", headers: { authorization: `Bearer ${platform.token}`, "content-type": "application/json" }, body: JSON.stringify({ name: "replicated" }),
    });
    expect(res.status).toBe(201);
    const seq = platform.edgeReplica.appliedSeq;
    for (const r of platform.regions) {
      await waitFor(`${r.name} to apply the state log up to ${seq}`, async () => {
        const health = (await (await fetch(`${r.httpUrl}/internal/health`, { headers: { "x-ferry-internal-token": platform.internalToken } })).json()) as { stateSeq?: number };
        return (health.stateSeq ?? 0) >= seq ? true : undefined;
      }, 10_000);
    }
  });

  it("calls run in a region the function allows; a function pinned to eu-west runs only there", async () => {
    const d = await deployFile(client, REGION_APP, { mode: "deployed" });
    const byName = new Map(d.response.functions.map((f) => [f.name, f.id]));
    for (let i = 0; i < 3; i++) {
      const res = await callIn(byName.get("euOnly")!, undefined);
      expect(res.status).toBe(200);
      expect(JSON.stringify(await res.json())).toContain("eu-west");
    }
    // Pinning a region the function is not deployed to: a 404 naming where it is.
    const pinned = await callIn(byName.get("euOnly")!, undefined, "us-east");
    expect(pinned.status).toBe(404);
    expect(((await pinned.json()) as { error: { message: string } }).error.message).toMatch(/regional.*us-east.*deployed in eu-west/);
    // Pinning an allowed region runs there.
    for (const region of ["us-east", "eu-west"]) {
      const res = await callIn(byName.get("where")!, 1, region);
      expect(res.status).toBe(200);
      expect(JSON.stringify(await res.json())).toContain(region);
    }
    await d.dispose();
  }, 120_000);

  it("`ferry deploy --region` deploys to exactly those regions; a region it cannot use is refused by name", async () => {
    const ok = await runCli(["deploy", REGION_APP, "--region", "eu-west", "--json"], env, 120_000);
    expect(ok.code, ok.stderr).toBe(0);
    const deployed = JSON.parse(ok.stdout.trim().split("\n").pop()!) as { functions: Array<{ name: string; id: string }> };
    const where = deployed.functions.find((f) => f.name === "where")!.id;
    for (let i = 0; i < 3; i++) {
      const res = await callIn(where, 2);
      expect(JSON.stringify(await res.json())).toContain("eu-west");
    }
    const refused = await callIn(where, 2, "us-east");
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/deployed in eu-west\)/);
    // euOnly runs only in eu-west, which a us-east deploy does not target.
    const clash = await runCli(["deploy", REGION_APP, "--region", "us-east"], env, 120_000);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toMatch(/euOnly runs only in eu-west, and this deploy targets us-east/);
    const unknown = await runCli(["deploy", REGION_APP, "--region", "mars-north"], env, 120_000);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/no region named "mars-north"; regions: .*us-east/);
  }, 240_000);

  it("a custom image uploaded to one region runs in every region (blocks fetched from the peer that has them)", async () => {
    const d = await deployFile(client, join(REPO_ROOT, "test/fixtures/apps/region-image-app.ts"), { mode: "deployed" });
    const hello = d.response.functions.find((f) => f.name === "hello")!.id;
    for (const region of ["us-east", "eu-west"]) {
      const res = await callIn(hello, undefined, region);
      const body = JSON.stringify(await res.json());
      expect(res.status, body).toBe(200);
      expect(body).toContain(region);
      expect(body).toContain("built-once");
    }
    await d.dispose();
  }, 180_000);

  it("a region cut off (its processes stopped) misses writes, then rejoins and converges", async () => {
    const cut = platform.region("eu-west");
    cut.pause();
    try {
      // Writes go on without it: the state cluster keeps a majority (us-east and the witness).
      // (while the cluster notices the cut-off server, a write may answer 503: clients retry those)
      for (let i = 0; i < 5; i++) {
        await waitFor(`write ${i} while eu-west is cut off`, async () => {
          const res = await fetch(`${platform.url}/v1/tokens`, {
            method: "POST", headers: { authorization: `Bearer ${platform.token}`, "content-type": "application/json" }, body: JSON.stringify({ name: `while-cut-${i}` }),
          });
          if (res.status !== 201) expect(res.status).toBe(503);
          return res.status === 201 ? true : undefined;
        }, 60_000);
      }
    } finally {
      cut.resume();
    }
    const seq = platform.edgeReplica.appliedSeq;
    await waitFor("eu-west to apply what it missed", async () => {
      const health = await fetch(`${cut.httpUrl}/internal/health`, { headers: { "x-ferry-internal-token": platform.internalToken } })
        .then((r) => r.json() as Promise<{ stateSeq?: number }>).catch(() => undefined);
      return (health?.stateSeq ?? 0) >= seq ? true : undefined;
    }, 30_000);
    // A function deployed after it rejoined runs there.
    const d = await deployFile(client, REGION_APP, { mode: "deployed" });
    const where = d.response.functions.find((f) => f.name === "where")!.id;
    const res = await waitFor("a call pinned to the rejoined region", async () => {
      const r = await callIn(where, 3, "eu-west");
      return r.status === 200 ? r : undefined;
    }, 30_000);
    expect(JSON.stringify(await res.json())).toContain("eu-west");
  }, 120_000);

  it("a region killed mid-traffic: calls go on through the other region, no acknowledged write is lost, Dicts and Queues outlive it, and it shows as down", async () => {
    const d = await deployFile(client, REGION_APP, { mode: "deployed" });
    const where = d.response.functions.find((f) => f.name === "where")!.id;
    // Warm both regions, then find the one the edge routes to.
    for (const region of ["us-east", "eu-west"]) expect((await callIn(where, 0, region)).status).toBe(200);
    const first = (await (await callIn(where, 0)).json()) as unknown;
    const victim = JSON.stringify(first).includes("us-east") ? "us-east" : "eu-west";
    const survivor = victim === "us-east" ? "eu-west" : "us-east";
    // Writes acknowledged before and while the region dies.
    const acked: string[] = [];
    const writeToken = async (name: string) => {
      const res = await fetch(`${platform.url}/v1/tokens`, {
        method: "POST", headers: { authorization: `Bearer ${platform.token}`, "content-type": "application/json" }, body: JSON.stringify({ name }),
      });
      if (res.status === 201) acked.push(name);
    };
    const endpoint = `${platform.url}/default/regional/here/`;
    for (const region of ["us-east", "eu-west"]) {
      const res = await fetch(endpoint, { headers: { "x-ferry-region": region } });
      expect(await res.text()).toBe(region);
    }
    for (let i = 0; i < 5; i++) await writeToken(`before-${i}`);
    // Dicts and Queues live on the state cluster: they outlive the region that served them.
    // (the state cluster may still be settling after the previous test's cut: 503s are retried)
    const dict = Dict.fromName("federation-dict", { createIfMissing: true });
    await waitFor("a Dict put", () => dict.put("k", { written: "before the kill" }).then(() => true, () => undefined), 30_000);
    const queue = Queue.fromName("federation-queue", { createIfMissing: true });
    await waitFor("a Queue put", () => queue.put({ job: 1 }).then(() => true, () => undefined), 30_000);
    platform.region(victim).kill();
    const writes = Promise.all(Array.from({ length: 5 }, (_, i) => writeToken(`during-${i}`)));
    const served = await waitFor("a call served by the surviving region", async () => {
      const res = await callIn(where, 1).catch(() => undefined);
      if (res?.status !== 200) return undefined;
      const body = JSON.stringify(await res.json());
      return body.includes(survivor) ? body : undefined;
    }, 30_000);
    expect(served).toContain(survivor);
    // Web endpoint requests too.
    const page = await waitFor("the endpoint answered by the surviving region", async () => {
      const res = await fetch(endpoint).catch(() => undefined);
      return res?.status === 200 ? res.text() : undefined;
    }, 30_000);
    expect(page).toBe(survivor);
    await writes;
    expect(acked.length).toBeGreaterThanOrEqual(5);
    // Every acknowledged write is in the surviving region's replica.
    const { openLibsql } = await import("@ferry/core/node");
    const replicaDb = await openLibsql(`file:${join(platform.stateDir, "regions", survivor, "state.db")}`);
    await waitFor("the survivor's replica to hold every acknowledged write", async () => {
      const rs = await replicaDb.execute("SELECT name FROM tokens");
      const names = new Set(rs.rows.map((r) => String(r.name)));
      return acked.every((n) => names.has(n)) ? true : undefined;
    }, 15_000);
    replicaDb.close();
    // (a store whose stream leader was on the lost server answers 503 until a new leader is elected)
    expect(await waitFor("the Dict after the kill", () => dict.get("k").catch(() => undefined), 30_000)).toEqual({ written: "before the kill" });
    expect(await waitFor("the Queue after the kill", () => queue.get({ timeout: 1 }).catch(() => undefined), 30_000)).toEqual({ job: 1 });
    const list = await runCli(["region", "list", "--json"], env);
    const regions = JSON.parse(list.stdout) as Array<{ name: string; health: string }>;
    expect(regions.find((r) => r.name === victim)?.health).not.toBe("up");
    expect(regions.find((r) => r.name === survivor)?.health).toBe("up");
  }, 120_000);
});
