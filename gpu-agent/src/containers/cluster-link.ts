import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { publishQuietly, Subjects } from "@ferry/core";
import type { RunnerResult } from "./runner-connection.ts";

/** Followers re-announce themselves this often until rank 0 says go. */
const READY_ANNOUNCE_MS = 200;

/** Where a container stands in its cluster, from the environment the region gave it. */
export interface ClusterInfo {
  readonly clusterId: string;
  readonly rank: number;
  readonly worldSize: number;
}

/** The container's cluster, if it was started as one rank of one. */
export const clusterInfoOf = (env: Readonly<Record<string, string>>): ClusterInfo | undefined => {
  const clusterId = env.FERRY_CLUSTER_ID;
  const rank = Number(env.RANK);
  const worldSize = Number(env.WORLD_SIZE);
  if (!clusterId || !Number.isInteger(rank) || !Number.isInteger(worldSize) || worldSize < 1) return undefined;
  return { clusterId, rank, worldSize };
};

interface RankResult { readonly rank: number; readonly inputId: string; readonly result: RunnerResult }

/**
 * The ranks of one cluster talking over core NATS (`Subjects.cluster`). Rank 0 takes inputs from
 * the function's queue and fans each out to every other rank, then waits for all of their results;
 * followers announce themselves until rank 0 has heard every rank, run what it sends and answer.
 * Any rank that ends says so, and the others end with it.
 *
 * @example
 * ```ts
 * const link = new ClusterLink(nc, info);
 * if (info.rank === 0) await link.waitForRanks(30_000);
 * ```
 */
export class ClusterLink {
  private readonly nc: NatsConnection;
  readonly info: ClusterInfo;
  private readonly subs: Subscription[] = [];
  private readonly waiters = new Map<string, { results: RankResult[]; done: (r: RankResult[]) => void }>();
  private readyTimer: ReturnType<typeof setInterval> | undefined;

  constructor(nc: NatsConnection, info: ClusterInfo) {
    this.nc = nc;
    this.info = info;
  }

  /** Rank 0: resolve once every other rank has announced itself, then tell them to go. */
  waitForRanks(timeoutMs: number): Promise<void> {
    const seen = new Set<number>();
    return new Promise((resolve, reject) => {
      if (this.info.worldSize === 1) return resolve();
      const timer = setTimeout(() => {
        const missing = Array.from({ length: this.info.worldSize - 1 }, (_, i) => i + 1).filter((r) => !seen.has(r));
        reject(new Error(`cluster rank(s) ${missing.join(", ")} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      this.subscribe("ready", (data) => {
        seen.add((data as { rank: number }).rank);
        if (seen.size >= this.info.worldSize - 1) {
          clearTimeout(timer);
          this.publish("go", {});
          resolve();
        }
      });
      this.subscribe("out", (data) => {
        const r = data as RankResult;
        const w = this.waiters.get(r.inputId);
        if (!w || w.results.some((x) => x.rank === r.rank)) return;
        w.results.push(r);
        if (w.results.length >= this.info.worldSize - 1) {
          this.waiters.delete(r.inputId);
          w.done(w.results);
        }
      });
    });
  }

  /** Rank 0: send an input to every other rank; resolves with their results. */
  fanOut(inputId: string, args: unknown): Promise<ReadonlyArray<RankResult>> {
    if (this.info.worldSize === 1) return Promise.resolve([]);
    const done = new Promise<RankResult[]>((resolve) => this.waiters.set(inputId, { results: [], done: resolve }));
    this.publish("in", { inputId, args });
    return done;
  }

  /** A follower: announce until rank 0 says go, and run each input it sends with `run`. */
  serve(run: (inputId: string, args: unknown) => Promise<RunnerResult>): void {
    this.subscribe("in", (data) => {
      const { inputId, args } = data as { inputId: string; args: unknown };
      void run(inputId, args).then((result) => this.publish("out", { rank: this.info.rank, inputId, result }));
    });
    this.subscribe("go", () => clearInterval(this.readyTimer));
    const announce = () => this.publish("ready", { rank: this.info.rank });
    announce();
    this.readyTimer = setInterval(announce, READY_ANNOUNCE_MS);
  }

  /** Call `onGone` when another rank ends. */
  watchPeers(onGone: (rank: number, reason: string) => void): void {
    this.subscribe("gone", (data) => {
      const { rank, reason } = data as { rank: number; reason: string };
      if (rank !== this.info.rank) onGone(rank, reason);
    });
  }

  /** This rank is ending: tell the others, and stop listening. */
  leave(reason: string): void {
    clearInterval(this.readyTimer);
    this.publish("gone", { rank: this.info.rank, reason });
    for (const s of this.subs) s.unsubscribe();
  }

  private publish(kind: "ready" | "go" | "in" | "out" | "gone", data: unknown): void {
    publishQuietly(this.nc, Subjects.cluster(this.info.clusterId, kind), JSON.stringify(data));
  }

  private subscribe(kind: "ready" | "go" | "in" | "out" | "gone", onData: (data: unknown) => void): void {
    this.subs.push(this.nc.subscribe(Subjects.cluster(this.info.clusterId, kind), { callback: (err, msg) => {
      if (!err) onData(msg.json());
    } }));
  }
}
