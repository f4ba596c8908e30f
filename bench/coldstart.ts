// Cold starts for a function scaled to zero: (a0) the default image, with the agent's warm pool of
// pre-started sandboxes on and off, alternating in the same run; (a) a tiny image already cached
// on the node (custom images do not use the warm pool); (b) an image with over 100 MB of dependencies not on the node, loaded lazily, with
// the fraction of its bytes fetched, against an eager full download measured in the same run;
// (c) (b) again on later cold starts, prefetching what the first start read.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setClientConfig, FerryClient } from "ferry";
import { deployFile } from "../sdk/src/cli/deploy-file.ts";
import { startLocalPlatform } from "../sdk/src/platform/local-platform.ts";
import type { RunningAgent } from "../gpu-agent/src/agent.ts";
import { finish, intArg, log, median, percentile, round } from "./harness.ts";

const APP = fileURLToPath(new URL("./apps/coldstart-app.ts", import.meta.url));
/** Dependency packages written for image (b), and the bytes of each (random: nothing deduplicates). */
const DEP_PACKAGES = 42;
const DEP_PACKAGE_BYTES = 2.5 * 1024 * 1024;

/** node_modules with DEP_PACKAGES large packages and the one small module the function imports. */
const writeDependencies = async (dir: string): Promise<void> => {
  for (let i = 0; i < DEP_PACKAGES; i++) {
    const pkg = join(dir, `big-dep-${i}`);
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, "package.json"), JSON.stringify({ name: `big-dep-${i}`, version: "1.0.0", type: "module", main: "index.js" }));
    await writeFile(join(pkg, "index.js"), `export const data = "${randomBytes(DEP_PACKAGE_BYTES * 0.75).toString("base64")}";\n`);
  }
  await mkdir(join(dir, "small-dep"), { recursive: true });
  await writeFile(join(dir, "small-dep", "package.json"), JSON.stringify({ name: "small-dep", version: "1.0.0", type: "module", main: "index.js" }));
  await writeFile(join(dir, "small-dep", "index.js"), "export const answer = () => 42;\n");
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long the agent must run no container before a start counts as cold (a spare start may be in flight). */
const ZERO_SETTLE_MS = 1_500;

/** Wait until the agent has run no container for ZERO_SETTLE_MS: the function is scaled to zero. */
const scaledToZero = async (agent: RunningAgent): Promise<void> => {
  const deadline = Date.now() + 60_000;
  let zeroSince = Date.now();
  while (agent.containers.size > 0 || Date.now() - zeroSince < ZERO_SETTLE_MS) {
    if (Date.now() > deadline) throw new Error("containers did not scale to zero within 60 s");
    if (agent.containers.size > 0) zeroSince = Date.now();
    await sleep(20);
  }
};

/** Milliseconds of one `.remote()` from a function scaled to zero. */
const coldCall = async (agent: RunningAgent, call: () => Promise<unknown>, expected: unknown): Promise<number> => {
  await scaledToZero(agent);
  const t0 = performance.now();
  const out = await call();
  const ms = performance.now() - t0;
  if (out !== expected) throw new Error(`got ${JSON.stringify(out)}, expected ${JSON.stringify(expected)}`);
  return ms;
};

export const main = async (args: ReadonlyArray<string>): Promise<void> => {
  const cachedSamples = intArg(args, "cached-samples", 20);
  const coldSamples = intArg(args, "cold-samples", 5);
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-coldstart-"));
  process.env.FERRY_BENCH_DEPS = join(dir, "node_modules");
  process.env.FERRY_IMAGE_CACHE = join(dir, "image-cache");
  const platform = await startLocalPlatform({ agents: 1 });
  try {
    log(`writing ${DEP_PACKAGES} dependency packages (${(DEP_PACKAGES * DEP_PACKAGE_BYTES / 1024 / 1024).toFixed(0)} MiB)`);
    await writeDependencies(join(dir, "node_modules"));
    const config = { url: platform.url, token: platform.token };
    setClientConfig(config);
    const client = new FerryClient(config);
    const t0 = performance.now();
    const deployed = await deployFile(client, APP, { mode: "ephemeral", onProgress: (l) => log(l) });
    log(`built, uploaded and deployed in ${(performance.now() - t0).toFixed(0)} ms`);
    const fns = Object.fromEntries(deployed.discovered.functions.map((f) => [f.name, f.handle])) as unknown as Record<"plain" | "tiny" | "big", { remote(): Promise<unknown> }>;
    const bigImage = deployed.images.find((i) => i.functions.includes("big"))!;
    const agent = platform.agents[0];

    // (a0) default image: a cold start takes a pre-started sandbox (pool on) or starts one (pool off), alternating.
    const poolSize = agent.warmPool.stats().size;
    if (poolSize === 0) throw new Error("the agent's warm pool is off: nothing to compare");
    await coldCall(agent, () => fns.plain.remote(), "hi");
    const poolOff: number[] = [];
    const poolOn: number[] = [];
    for (let i = 0; i < cachedSamples; i++) {
      agent.warmPool.resize(0);
      poolOff.push(await coldCall(agent, () => fns.plain.remote(), "hi"));
      agent.warmPool.resize(poolSize);
      await agent.warmPool.whenIdle();
      const taken = agent.warmPool.stats().taken;
      poolOn.push(await coldCall(agent, () => fns.plain.remote(), "hi"));
      if (agent.warmPool.stats().taken === taken) throw new Error("a cold start with the pool on did not take a pooled sandbox");
    }
    log(`(a0) default image: pool off p50 ${percentile(poolOff, 50).toFixed(1)} ms, p95 ${percentile(poolOff, 95).toFixed(1)} ms; pool on p50 ${percentile(poolOn, 50).toFixed(1)} ms, p95 ${percentile(poolOn, 95).toFixed(1)} ms`);

    // (a) tiny image, cached on the node after the first start.
    await coldCall(agent, () => fns.tiny.remote(), "hi");
    const cached: number[] = [];
    for (let i = 0; i < cachedSamples; i++) cached.push(await coldCall(agent, () => fns.tiny.remote(), "hi"));
    log(`(a) cached tiny image: p50 ${percentile(cached, 50).toFixed(1)} ms, p95 ${percentile(cached, 95).toFixed(1)} ms`);

    // (b) big image not on the node: lazy, then eager (alternating, each from an empty cache and no recorded reads).
    const lazy: number[] = [];
    const eager: number[] = [];
    const eagerFractions: number[] = [];
    const fractions: number[] = [];
    for (let i = 0; i < coldSamples; i++) {
      await scaledToZero(agent);
      agent.images.loading = "lazy";
      await agent.images.dropCache({ forgetReads: true });
      lazy.push(await coldCall(agent, () => fns.big.remote(), 42));
      fractions.push(((await agent.imageStats())?.fetchedBytes ?? 0) / bigImage.bytes);
      await scaledToZero(agent);
      agent.images.loading = "eager";
      await agent.images.dropCache({ forgetReads: true });
      eager.push(await coldCall(agent, () => fns.big.remote(), 42));
      eagerFractions.push(((await agent.imageStats())?.fetchedBytes ?? 0) / bigImage.bytes);
    }
    agent.images.loading = "lazy";
    log(`(b) lazy p50 ${median(lazy).toFixed(1)} ms fetching ${(median(fractions) * 100).toPrecision(3)} % of ${(bigImage.bytes / 1024 / 1024).toFixed(0)} MiB; eager p50 ${median(eager).toFixed(1)} ms`);

    // (c) later cold starts of the big image on a node whose cache lost it: the first start's reads are prefetched.
    await scaledToZero(agent);
    await agent.images.dropCache({ forgetReads: true });
    await coldCall(agent, () => fns.big.remote(), 42);
    await scaledToZero(agent);
    for (let i = 0; i < 100 && agent.images.recordedBlocks(bigImage.imageId).length === 0; i++) await sleep(20);
    const recorded = agent.images.recordedBlocks(bigImage.imageId).length;
    if (recorded === 0) throw new Error("the first cold start of the big image recorded no reads");
    const prefetch: number[] = [];
    const prefetchFractions: number[] = [];
    for (let i = 0; i < coldSamples; i++) {
      await scaledToZero(agent);
      await agent.images.dropCache();
      prefetch.push(await coldCall(agent, () => fns.big.remote(), 42));
      prefetchFractions.push(((await agent.imageStats())?.fetchedBytes ?? 0) / bigImage.bytes);
    }
    log(`(c) with prefetch p50 ${median(prefetch).toFixed(1)} ms (${recorded} recorded blocks prefetched)`);
    await deployed.dispose();
    setClientConfig(undefined);
    await platform.stop();
    await rm(dir, { recursive: true, force: true });
    await finish({
      bench: "coldstart",
      plain_pool_off_p50_ms: round(percentile(poolOff, 50), 1),
      plain_pool_off_p95_ms: round(percentile(poolOff, 95), 1),
      plain_pool_on_p50_ms: round(percentile(poolOn, 50), 1),
      plain_pool_on_p95_ms: round(percentile(poolOn, 95), 1),
      warm_pool_size: poolSize,
      cached_p50_ms: round(percentile(cached, 50), 1),
      cached_p95_ms: round(percentile(cached, 95), 1),
      lazy_p50_ms: round(median(lazy), 1),
      lazy_fetched_fraction: Number(median(fractions).toPrecision(3)),
      eager_p50_ms: round(median(eager), 1),
      eager_fetched_fraction: Number(median(eagerFractions).toPrecision(3)),
      prefetch_p50_ms: round(median(prefetch), 1),
      prefetch_fetched_fraction: Number(median(prefetchFractions).toPrecision(3)),
      image_bytes: bigImage.bytes,
      samples_ms: { plain_pool_off: poolOff.map((x) => round(x, 1)), plain_pool_on: poolOn.map((x) => round(x, 1)), cached: cached.map((x) => round(x, 1)), lazy: lazy.map((x) => round(x, 1)), eager: eager.map((x) => round(x, 1)), prefetch: prefetch.map((x) => round(x, 1)) },
      targets: { cached_p50_ms: 100, lazy_p50_ms: 500, lazy_fetched_fraction: 0.1 },
    });
  } catch (e) {
    setClientConfig(undefined);
    await platform.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
};
