import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../fixtures/wait-for.ts";
import { join } from "node:path";
import { loadGpuCatalog, type SimulatedCloudProvider } from "@ferry/regions";
import { REPO_ROOT, type TestPlatform } from "../fixtures/platform.ts";
import { startTestPlatform } from "../fixtures/platform.ts";

/**
 * The broker provisions nodes from simulated clouds (real catalog prices; each node a real agent
 * process with simulated GPUs) when no connected agent can serve, fails over on stock-outs and
 * terminates idle nodes.
 */

const BROKER_APP = join(REPO_ROOT, "test/fixtures/apps/broker-app.ts");
type BrokerApp = typeof import("../fixtures/apps/broker-app.ts");
interface Where { gpu: string; cloud: string; container: string }
interface MarketRow { source: string; cloud: string; cloudRegion: string; zone: string; gpuType: string; pricePerHour: number; instanceType: string; simulated: boolean }

const NODE_IDLE_WINDOW_MS = 1_500;
const { offers } = loadGpuCatalog();
// The cheapest offer as the documented rule ranks it; equal prices (lambda's regions all cost the
// same) go to the region first by name.
const cheapest = (cloud: string, gpuType: string, except: (o: { cloudRegion: string }) => boolean = () => false) =>
  offers.filter((o) => o.cloud === cloud && o.gpuType === gpuType && !except(o)).sort((a, b) => a.pricePerHour - b.pricePerHour || a.cloudRegion.localeCompare(b.cloudRegion))[0]!;


describe("capacity brokering across simulated clouds", () => {
  let t: TestPlatform;
  let fns: BrokerApp;
  let lambda: SimulatedCloudProvider;
  const market = async () => (await t.client.request<{ regions: Array<{ offers: MarketRow[] }> }>("GET", "/v1/gpu/market")).regions.flatMap((r) => r.offers);
  const gpuAgents = async () => (await market()).filter((o) => o.source === "agent" && o.gpuType !== "cpu");
  const noGpuAgents = () => waitFor("provisioned nodes to be terminated", async () => ((await gpuAgents()).length === 0 ? true : undefined));

  beforeAll(async () => {
    t = await startTestPlatform({ agents: 1, providers: { clouds: ["lambda", "runpod"], nodeIdleWindowMs: NODE_IDLE_WINDOW_MS } });
    lambda = t.platform.providers.find((p) => p.name === "lambda") as SimulatedCloudProvider;
    const d = await t.deploy(BROKER_APP);
    fns = Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as BrokerApp;
  });
  afterAll(() => t?.stop());

  it("provisions the cheapest catalog offer that fits when no agent has the GPU", async () => {
    const want = cheapest("lambda", "H100");
    expect(await fns.lambdaH100.remote()).toMatchObject({ cloud: "lambda", gpu: "H100:1" });
    const [node] = await gpuAgents();
    expect(node).toMatchObject({ cloud: "lambda", gpuType: "H100", instanceType: want.instanceType, pricePerHour: want.pricePerHour, cloudRegion: want.cloudRegion, simulated: true });
  });

  it("the market lists the clouds' offers with catalog prices", async () => {
    const rows = await market();
    const lambdaH100 = rows.filter((o) => o.source === "provider" && o.cloud === "lambda" && o.gpuType === "H100");
    expect(lambdaH100.length).toBeGreaterThan(0);
    expect(Math.min(...lambdaH100.map((o) => o.pricePerHour))).toBe(cheapest("lambda", "H100").pricePerHour);
    expect(rows.some((o) => o.source === "provider" && o.cloud === "runpod")).toBe(true);
  });

  it("terminates a provisioned node once it has been idle for the node idle window", async () => {
    await noGpuAgents();
  });

  it("on a stock-out, blocks the offer and fails over to another region of the same cloud", async () => {
    const first = cheapest("lambda", "H100");
    lambda.markOutOfStock({ cloudRegion: first.cloudRegion });
    const next = cheapest("lambda", "H100", (o) => o.cloudRegion === first.cloudRegion);
    expect(await fns.lambdaH100.remote()).toMatchObject({ cloud: "lambda" });
    const [node] = await gpuAgents();
    expect(node!.cloudRegion).not.toBe(first.cloudRegion);
    expect(node!.pricePerHour).toBe(next.pricePerHour);
    await noGpuAgents();
  });

  it("fails over to another allowed cloud when one is out everywhere, and a function bound to it gets a clear error", async () => {
    lambda.markOutOfStock({});
    expect(await fns.anyCloudH100.remote()).toMatchObject({ cloud: "runpod", gpu: "H100:1" });
    await expect(fns.lambdaH100.remote()).rejects.toThrow(/every offer for gpu H100 in lambda is out of stock/);
  });
});
