// `.map` throughput over trivial inputs (inputs/s, median of several runs after one warm-up map,
// every output checked) against a plain in-process loop of `await inc.local(x)`, in this run.
import { cpuDelta, cpuSnapshot, finish, intArg, log, median, round, startBenchPlatform, type BenchPlatform } from "./harness.ts";

export const main = async (args: ReadonlyArray<string>): Promise<void> => {
  const inputs = intArg(args, "inputs", 20_000);
  const runs = intArg(args, "runs", 3);
  const data = Array.from({ length: inputs }, (_, i) => i);
  let t: BenchPlatform | undefined;
  try {
    t = await startBenchPlatform();
    const { inc } = t.fns;
    const agent = t.platform.agents[0];

    /** One `.map` over every input; fails loudly on a missing, extra or wrong output. */
    const cpuMapped: Record<string, number> = {};
    const mapOnce = async (label: string, measured: boolean): Promise<number> => {
      const c0 = cpuSnapshot();
      const t0 = performance.now();
      let i = 0;
      for await (const y of inc.map(data)) {
        if (i >= inputs) throw new Error(`${label}: more outputs than the ${inputs} inputs (extra output ${JSON.stringify(y)})`);
        if (y !== data[i] + 1) throw new Error(`${label}: output ${i} is ${JSON.stringify(y)}, expected ${data[i] + 1}`);
        i++;
      }
      const ms = performance.now() - t0;
      if (i !== inputs) throw new Error(`${label}: got ${i} outputs for ${inputs} inputs`);
      if (measured) for (const [k, v] of Object.entries(cpuDelta(c0, cpuSnapshot()))) cpuMapped[k] = (cpuMapped[k] ?? 0) + v;
      const rate = inputs / (ms / 1000);
      log(`${label}: ${inputs} inputs in ${ms.toFixed(0)} ms = ${rate.toFixed(0)} inputs/s, outputs correct (${agent.containers.size} container(s) live)`);
      return rate;
    };

    /** The in-process floor: the same function called in a plain loop. */
    const localOnce = async (label: string): Promise<number> => {
      const t0 = performance.now();
      for (const x of data) {
        const y = await inc.local(x);
        if (y !== x + 1) throw new Error(`${label}: inc.local(${x}) returned ${y}`);
      }
      const ms = performance.now() - t0;
      const rate = inputs / (ms / 1000);
      log(`${label}: ${inputs} inputs in ${ms.toFixed(1)} ms = ${rate.toFixed(0)} inputs/s`);
      return rate;
    };

    await mapOnce("warm-up map", false);
    const rates: number[] = [];
    for (let r = 1; r <= runs; r++) rates.push(await mapOnce(`map run ${r}/${runs}`, true));
    await localOnce("warm-up local loop");
    const localRates: number[] = [];
    for (let r = 1; r <= runs; r++) localRates.push(await localOnce(`local loop run ${r}/${runs}`));

    const rate = median(rates);
    const localRate = median(localRates);
    log(`map median ${rate.toFixed(0)} inputs/s (target >= 10000); in-process loop median ${localRate.toFixed(0)} inputs/s`);
    const containers = agent.containers.size;
    // CPU each process spent per 1,000 inputs over the measured runs.
    const cpuPer1000 = Object.fromEntries(Object.entries(cpuMapped).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1])
      .map(([k, v]) => [k, round((v / (inputs * runs)) * 1000, 1)]));
    log(`CPU ms per 1,000 inputs by process: ${JSON.stringify(cpuPer1000)}`);
    log("stopping platform");
    await t.stop();
    t = undefined;
    await finish({
      bench: "map",
      inputs_per_s: round(rate, 0),
      inputs,
      runs,
      runs_inputs_per_s: rates.map((x) => round(x, 0)),
      containers,
      cpu_ms_per_1000_inputs: cpuPer1000,
      target_inputs_per_s: 10_000,
      target_met: rate >= 10_000,
      baseline: { inputs_per_s: round(localRate, 0), runs_inputs_per_s: localRates.map((x) => round(x, 0)) },
    });
  } finally {
    await t?.stop().catch(() => undefined);
  }
};
