// Shared pieces of the benchmarks: argument parsing, statistics, a real local platform, reporting.
import { fileURLToPath } from "node:url";
import { FerryClient, setClientConfig } from "ferry";
import { startLocalPlatform, type LocalPlatform } from "ferry/platform";
import { deployFile, type DeployedFile } from "../sdk/src/cli/deploy-file.ts";

export const BENCH_APP = fileURLToPath(new URL("./apps/bench-app.ts", import.meta.url));

export type BenchApp = typeof import("./apps/bench-app.ts");

/** Progress goes to stderr; stdout is reserved for the result line. */
export const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

/** `--name N` as a positive integer, or `fallback`; anything else is an error. */
export const intArg = (args: ReadonlyArray<string>, name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  const raw = eq !== undefined ? eq.slice(name.length + 3) : i >= 0 ? args[i + 1] : undefined;
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
};

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export const percentile = (samples: ReadonlyArray<number>, p: number): number => {
  if (samples.length === 0) throw new Error("no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
};

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

export interface BenchPlatform {
  readonly platform: LocalPlatform;
  readonly client: FerryClient;
  /** The deployed handles of bench/apps/bench-app.ts. */
  readonly fns: BenchApp;
  stop(): Promise<void>;
}

/** Start a whole local platform (nats-server, libSQL, edge, region, one agent) and deploy the bench app. */
export const startBenchPlatform = async (): Promise<BenchPlatform> => {
  const t0 = performance.now();
  const platform = await startLocalPlatform({ agents: 1 });
  const config = { url: platform.url, token: platform.token };
  setClientConfig(config);
  const client = new FerryClient(config);
  let deployed: DeployedFile | undefined;
  try {
    deployed = await deployFile(client, BENCH_APP, { mode: "ephemeral", onProgress: (l) => log(l) });
  } catch (e) {
    setClientConfig(undefined);
    await platform.stop();
    throw e;
  }
  const handles: Record<string, unknown> = {};
  for (const f of deployed.discovered.functions) handles[f.name] = f.handle;
  log(`platform up and app deployed in ${(performance.now() - t0).toFixed(0)} ms (edge ${platform.url})`);
  const d = deployed;
  return {
    platform,
    client,
    fns: handles as unknown as BenchApp,
    async stop() {
      await d.dispose().catch(() => undefined);
      setClientConfig(undefined);
      await platform.stop();
    },
  };
};

/** Print the result as the last stdout line, then end the process even if handles linger. */
export const finish = async (result: Record<string, unknown>): Promise<never> => {
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(result)}\n`, () => resolve()));
  process.exit(0);
};
