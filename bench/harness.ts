// Shared pieces of the benchmarks: argument parsing, statistics, a real local platform, reporting.
import { readdirSync, readFileSync } from "node:fs";
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

/** CPU seconds per tick of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const CLOCK_TICK_MS = 10;

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/** Every descendant process of this one (nats-server, bubblewrap, the runners in sandboxes…). */
const descendants = (): number[] => {
  const out: number[] = [];
  const queue = [process.pid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      for (const c of (readText(`/proc/${pid}/task/${tid}/children`) ?? "").split(" ").filter(Boolean)) {
        out.push(Number(c));
        queue.push(Number(c));
      }
    }
  }
  return out;
};

/**
 * CPU milliseconds used so far by this process (SDK, edge, region and agent all run in it) and
 * by its descendants grouped by command name, from /proc (Linux; empty elsewhere).
 */
export const cpuSnapshot = (): Map<string, number> => {
  const snap = new Map<string, number>();
  const self = process.cpuUsage();
  snap.set("platform process (sdk+edge+region+agent)", (self.user + self.system) / 1000);
  for (const pid of descendants()) {
    const stat = readText(`/proc/${pid}/stat`);
    if (!stat) continue;
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    // fields[11], [12] are utime and stime (fields 14 and 15 of stat(5), counted from `state`).
    const ms = (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
    const name = comm === "node" || comm === "MainThread" || comm === "bwrap" ? "containers (bwrap + runner)" : comm;
    snap.set(name, (snap.get(name) ?? 0) + ms);
  }
  return snap;
};

/** Per-process CPU used between two snapshots (processes that ended in between are missed). */
export const cpuDelta = (before: Map<string, number>, after: Map<string, number>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [k, v] of after) out[k] = Math.max(0, v - (before.get(k) ?? 0));
  return out;
};
