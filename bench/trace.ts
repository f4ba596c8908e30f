// Replays a request trace against a simulated GPU inference function (discrete events, simulated
// time) under Ferry's learned scale policy and under fixed keep-alive windows of 60 s and 600 s,
// all in this run; reports latency, cold starts and GPU-seconds paid for each.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ScalePolicy, type ScalePolicyOptions } from "../regions/src/autoscaler/scale-policy.ts";
import { finish, log, percentile, round } from "./harness.ts";

/** The Azure LLM code trace: in the shared data beside the repository, else the copy in bench/. */
const SHARED_TRACE = fileURLToPath(new URL("../../shared/data/traces/azure-llm-2023-code.csv", import.meta.url));
const BUNDLED_TRACE = fileURLToPath(new URL("./data/traces/azure-llm-2023-code.csv", import.meta.url));
const COLUMNS = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"] as const;

/**
 * The simulated function: a 13B-parameter model in fp16 (26 GB of weights) served from one H100
 * per container. A cold start is container start (~2 s) + reading the weights at ~2 GB/s (~13 s)
 * + CUDA context and graph capture (~5 s) = 20 s. A request's service time is its prompt
 * (`ContextTokens`) prefilled at 8,000 tokens/s plus 25 ms per generated token (`GeneratedTokens`);
 * with continuous batching a container runs up to 8 requests at once (`maxInputs` 8), each at that
 * speed (the slowdown of decode in larger batches is left out). Requests beyond the free slots
 * wait in one FIFO queue.
 */
const COLD_START_S = 20;
const PREFILL_TOKENS_PER_S = 8_000;
const DECODE_S_PER_TOKEN = 0.025;
const MAX_INPUTS = 8;
/** The function's `maxContainers`, for every policy. */
const MAX_CONTAINERS = 100;
/** A run stops this long after the last arrival even if a policy never lets its containers go. */
const GIVE_UP_AFTER_S = 2 * 86_400;
/** How often the simulated region looks at the function, as the real autoscaler does. */
const TICK_S = 0.2;
/** The fixed keep-alive windows compared against. */
const FIXED_WINDOWS_S = [60, 600] as const;

interface Request {
  readonly at: number;
  readonly serviceS: number;
}

interface Container {
  readonly startedAt: number;
  readonly readyAt: number;
  running: number;
  /** When it last went from no input to some, while it runs any. */
  busySince: number;
  idleSince: number | undefined;
}

/** One look of the region at the function: how many containers to start and which to stop. */
interface Scaler {
  observeArrival(now: number): void;
  observeReady(coldStartS: number): void;
  plan(now: number, busy: number, queued: number, live: ReadonlyArray<Container>): { start: number; stop: ReadonlyArray<Container> };
}

/** One policy's run over the trace. */
interface Outcome {
  /** Seconds from each request's arrival to its completion. */
  readonly latencies: ReadonlyArray<number>;
  readonly coldStarts: number;
  /** Container-seconds paid, and how: starting, running at least one request, idle. */
  readonly paid: { readonly total: number; readonly starting: number; readonly busy: number; readonly idle: number };
}

/** A command-line or trace problem: reported in one line, exit status 2. */
class BadInput extends Error {
  override name = "BadInput";
}

const rawArg = (args: ReadonlyArray<string>, name: string): string | undefined => {
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  if (eq !== undefined) return eq.slice(name.length + 3);
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  if (args[i + 1] === undefined) throw new BadInput(`--${name} needs a value`);
  return args[i + 1];
};

const numArg = (args: ReadonlyArray<string>, name: string, fallback: number, integer = false): number => {
  const raw = rawArg(args, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new BadInput(`--${name} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(raw)}`);
  }
  return n;
};

/** Seconds since the epoch of `2023-11-16 18:17:03.9799600` (UTC), or of a bare number of seconds. */
const parseTimestamp = (s: string): number => {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?Z?$/.exec(s);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000 + Number(m[7] ?? 0);
};

/** The trace's requests, arrival times from 0 divided by `speed`, with their service times. */
export const readTrace = (path: string, speed: number): Request[] => {
  if (!existsSync(path)) throw new BadInput(`trace file not found: ${path}`);
  const lines = readFileSync(path, "utf8").split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").split(",").map((c) => c.trim());
  const at = COLUMNS.map((c) => header.indexOf(c));
  const missing = COLUMNS.filter((_, i) => at[i] < 0);
  if (missing.length > 0) throw new BadInput(`${path}: missing column(s) ${missing.join(", ")}; expected a CSV with header ${COLUMNS.join(",")}`);
  if (lines.length < 2) throw new BadInput(`${path}: no requests after the header`);
  const rows = lines.slice(1).map((line, i) => {
    const cells = line.split(",");
    const [t, ctx, gen] = at.map((j) => (cells[j] ?? "").trim());
    const row = { t: parseTimestamp(t), ctx: Number(ctx), gen: Number(gen) };
    if (!Number.isFinite(row.t) || !(row.ctx >= 0) || !(row.gen >= 0)) throw new BadInput(`${path}:${i + 2}: cannot read ${JSON.stringify(line)}`);
    return row;
  });
  rows.sort((a, b) => a.t - b.t);
  const t0 = rows[0].t;
  return rows.map((r) => ({ at: (r.t - t0) / speed, serviceS: r.ctx / PREFILL_TOKENS_PER_S + r.gen * DECODE_S_PER_TOKEN }));
};

/** Today's behaviour: start a container for inputs without a free slot, stop one idle `windowS`. */
const fixedWindow = (windowS: number, maxInputs: number): Scaler => ({
  observeArrival: () => undefined,
  observeReady: () => undefined,
  plan: (now, busy, queued, live) => ({
    start: Math.max(0, Math.min(MAX_CONTAINERS, Math.ceil((busy + queued) / maxInputs)) - live.length),
    stop: live.filter((c) => c.idleSince !== undefined && now - c.idleSince >= windowS),
  }),
});

/** Ferry's learned policy, called as the region calls it (times in ms). */
const ferryPolicy = (options: ScalePolicyOptions): Scaler => {
  const policy = new ScalePolicy();
  return {
    observeArrival: (now) => policy.observeArrival(now * 1000),
    observeReady: (coldStartS) => policy.observeColdStart(coldStartS * 1000),
    plan: (now, busy, queued, live) => {
      const idle = live.filter((c) => c.idleSince !== undefined).sort((a, b) => a.idleSince! - b.idleSince!);
      const starting = live.filter((c) => c.readyAt > now).length;
      const p = policy.plan(now * 1000, { busy, queued, live: live.length, idle: idle.length, starting, options });
      return { start: p.start, stop: idle.slice(0, p.release) };
    },
  };
};

/** A binary min-heap of request completions. */
class Completions {
  private readonly heap: Array<{ at: number; c: Container }> = [];
  get size(): number {
    return this.heap.length;
  }
  peek(): number {
    return this.heap[0]?.at ?? Infinity;
  }
  push(e: { at: number; c: Container }): void {
    const h = this.heap;
    h.push(e);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (h[parent].at <= h[i].at) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }
  pop(): { at: number; c: Container } {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length === 0) return top;
    h[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      let m = i;
      if (l < h.length && h[l].at < h[m].at) m = l;
      if (l + 1 < h.length && h[l + 1].at < h[m].at) m = l + 1;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
    return top;
  }
}

/**
 * Replays `requests` under `scaler`, in simulated time. The region looks at the function on every
 * arrival and every `TICK_S`. A request goes to the busiest ready container with a free slot (so
 * spare containers fall idle and can be stopped), else waits in a FIFO queue. Containers are paid
 * from the start of their cold start until they are stopped; the run ends when the last one is.
 */
export const simulate = (requests: ReadonlyArray<Request>, scaler: Scaler, maxInputs: number, coldStartS: number): Outcome => {
  const live: Container[] = [];
  const queue: Request[] = [];
  const done = new Completions();
  const latencies: number[] = [];
  let coldStarts = 0;
  let paid = 0;
  let busyPaid = 0;
  let busy = 0;
  let next = 0;
  let now = 0;
  let tick = 0;
  const dispatch = () => {
    while (queue.length > 0) {
      let best: Container | undefined;
      for (const c of live) {
        if (c.readyAt > now || c.running >= maxInputs) continue;
        if (best === undefined || c.running > best.running) best = c;
      }
      if (best === undefined) return;
      const r = queue.shift()!;
      if (best.running++ === 0) best.busySince = now;
      best.idleSince = undefined;
      busy++;
      done.push({ at: now + r.serviceS, c: best });
      latencies.push(now + r.serviceS - r.at);
    }
  };
  const scale = () => {
    const p = scaler.plan(now, busy, queue.length, live);
    for (const c of p.stop) {
      paid += now - c.startedAt;
      live.splice(live.indexOf(c), 1);
    }
    for (let i = 0; i < p.start; i++) {
      live.push({ startedAt: now, readyAt: now + coldStartS, running: 0, busySince: now, idleSince: undefined });
      coldStarts++;
    }
  };
  const end = (requests.at(-1)?.at ?? 0) + GIVE_UP_AFTER_S;
  while (now < end && (next < requests.length || done.size > 0 || queue.length > 0 || live.length > 0)) {
    const readyAt = live.reduce((m, c) => (c.readyAt > now && c.readyAt < m ? c.readyAt : m), Infinity);
    const arrival = requests[next]?.at ?? Infinity;
    now = Math.min(arrival, done.peek(), readyAt, tick);
    if (done.peek() === now) {
      const { c } = done.pop();
      busy--;
      if (--c.running === 0) {
        c.idleSince = now;
        busyPaid += now - c.busySince;
      }
      dispatch();
    } else if (arrival === now) {
      queue.push(requests[next++]);
      scaler.observeArrival(now);
      dispatch();
      scale();
      dispatch();
    } else if (readyAt === now) {
      for (const c of live) {
        if (c.readyAt !== now) continue;
        c.idleSince = now;
        scaler.observeReady(coldStartS);
      }
      dispatch();
    } else {
      tick = now + TICK_S;
      scale();
      dispatch();
    }
  }
  for (const c of live) paid += now - c.startedAt;
  const starting = coldStarts * coldStartS;
  return { latencies, coldStarts, paid: { total: paid, starting, busy: busyPaid, idle: paid - busyPaid - starting } };
};

/** The figures reported for one policy. */
const summary = (o: Outcome) => ({
  p50_s: round(percentile(o.latencies, 50), 2),
  p99_s: round(percentile(o.latencies, 99), 2),
  cold_starts: o.coldStarts,
  gpu_seconds: Math.round(o.paid.total),
});

/**
 * `npm run bench -- trace [--trace PATH] [--speed X] [--max-inputs N] [--cold-start S]`: replays
 * the trace (arrivals X times as fast) under Ferry's policy and the fixed windows; the last stdout
 * line is the result. A missing trace, a CSV without the columns, or a bad option exits with 2.
 *
 * @example
 * ```ts
 * await main(["--speed", "4"]); // {"bench":"trace","requests":8819,"ferry":{"p50_s":…},…}
 * ```
 */
export const main = async (args: ReadonlyArray<string>): Promise<void> => {
  let requests: Request[];
  let speed: number;
  let maxInputs: number;
  let coldStartS: number;
  let path: string;
  try {
    speed = numArg(args, "speed", 1);
    maxInputs = numArg(args, "max-inputs", MAX_INPUTS, true);
    coldStartS = numArg(args, "cold-start", COLD_START_S);
    path = rawArg(args, "trace") ?? (existsSync(SHARED_TRACE) ? SHARED_TRACE : BUNDLED_TRACE);
    requests = readTrace(path, speed);
  } catch (e) {
    process.stderr.write(`trace: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  log(`${requests.length} requests over ${(requests.at(-1)!.at / 60).toFixed(1)} min from ${path} (arrivals x${speed} speed)`);
  log(`function: cold start ${coldStartS} s, prefill ${PREFILL_TOKENS_PER_S} tokens/s, decode ${DECODE_S_PER_TOKEN * 1000} ms/token, ${maxInputs} requests per container`);
  const options: ScalePolicyOptions = { minContainers: 0, maxContainers: MAX_CONTAINERS, bufferContainers: 0, scaledownWindowS: undefined, maxInputs };
  const outcomes: Record<string, Outcome> = { ferry: simulate(requests, ferryPolicy(options), maxInputs, coldStartS) };
  for (const w of FIXED_WINDOWS_S) outcomes[`fixed_${w}s`] = simulate(requests, fixedWindow(w, maxInputs), maxInputs, coldStartS);
  for (const [name, o] of Object.entries(outcomes)) {
    const r = summary(o);
    const p = o.paid;
    log(`${name.padEnd(10)} p50 ${r.p50_s} s  p99 ${r.p99_s} s  cold starts ${r.cold_starts}  GPU-seconds ${r.gpu_seconds} (starting ${Math.round(p.starting)}, busy ${Math.round(p.busy)}, idle ${Math.round(p.idle)})`);
  }
  const p99 = (name: string) => percentile(outcomes[name].latencies, 99);
  const latencyMet = p99("ferry") <= p99("fixed_600s");
  const costMet = outcomes.ferry.paid.total <= outcomes.fixed_60s.paid.total;
  log(`targets: Ferry p99 <= fixed 600 s p99: ${latencyMet ? "met" : "missed"}; Ferry GPU-seconds <= fixed 60 s: ${costMet ? "met" : "missed"}`);
  await finish({
    bench: "trace",
    requests: requests.length,
    ferry: summary(outcomes.ferry),
    fixed_60s: summary(outcomes.fixed_60s),
    fixed_600s: summary(outcomes.fixed_600s),
  });
};
