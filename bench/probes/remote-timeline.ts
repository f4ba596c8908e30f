// Diagnostic, not a benchmark: where the time of one warm `.remote()` goes, hop by hop.
// It wraps internals of the in-process platform (fetch, JetStream publish, the agent's container
// and runner connection) with timestamps, so it may need updating when those internals change.
//
//   node bench/probes/remote-timeline.ts [calls]
//
// Prints, for each mark, its median time since the call started (each mark's median on its own,
// so the steps are approximate) and the step from the previous line.
import { createRequire } from "node:module";
import { Container } from "../../gpu-agent/src/containers/container.ts";
import { RunnerConnection } from "../../gpu-agent/src/containers/runner-connection.ts";
import { percentile, startBenchPlatform } from "../harness.ts";

type AnyFn = (this: unknown, ...args: unknown[]) => Promise<unknown>;

const require = createRequire(import.meta.url);
const { JetStreamClientImpl } = require("@nats-io/jetstream/internal") as { JetStreamClientImpl: { prototype: Record<string, AnyFn> } };

let marks: Record<string, number> | undefined;
const mark = (k: string) => {
  if (marks && marks[k] === undefined) marks[k] = performance.now();
};

/** Wrap `proto[name]` so `before`/`after` marks are taken around each call. */
const around = (proto: Record<string, unknown>, name: string, label: (args: unknown[]) => string) => {
  const orig = proto[name] as AnyFn;
  proto[name] = async function (this: unknown, ...args: unknown[]) {
    const l = label(args);
    mark(`${l} start`);
    try {
      return await orig.apply(this, args);
    } finally {
      mark(`${l} end`);
    }
  };
};

around(JetStreamClientImpl.prototype, "publish", ([subj]) => {
  const s = String(subj);
  if (s.startsWith("ferry.in.")) return "region: JetStream publish input";
  if (s.startsWith("ferry.out.")) return marks?.["agent: runner round trip end"] ? "agent: JetStream publish output" : "region: JetStream publish closed";
  return `JetStream publish ${s}`;
});
around(Container.prototype as unknown as Record<string, unknown>, "processBatch", () => "agent: batch (message received → acked)");
around(RunnerConnection.prototype as unknown as Record<string, unknown>, "run", () => "agent: runner round trip");
const origFetch = globalThis.fetch;
globalThis.fetch = (async (url: string | URL | Request, init?: RequestInit) => {
  const u = String(url);
  const hop = u.includes("/internal/calls") ? "edge → region HTTP" : u.includes("/v1/functions") ? "sdk → edge HTTP" : `fetch ${u}`;
  mark(`${hop} start`);
  const res = await origFetch(url, init);
  mark(`${hop} response headers`);
  return res;
}) as typeof fetch;

const calls = Number(process.argv[2] ?? 1000);
const t = await startBenchPlatform();
for (let i = 0; i < 50; i++) await t.fns.noop.remote();
const all: Record<string, number[]> = {};
for (let i = 0; i < calls; i++) {
  marks = {};
  const t0 = performance.now();
  await t.fns.noop.remote();
  marks["sdk: remote() resolved"] = performance.now();
  for (const [k, v] of Object.entries(marks)) (all[k] ??= []).push(v - t0);
  marks = undefined;
}
await t.stop();
const rows = Object.entries(all).map(([k, v]) => ({ k, p50: percentile(v, 50), n: v.length })).sort((a, b) => a.p50 - b.p50);
let prev = 0;
console.log(`median over ${calls} warm calls (ms since remote() was called):`);
for (const { k, p50, n } of rows) {
  console.log(`${p50.toFixed(3).padStart(8)}  +${(p50 - prev).toFixed(3)}  ${k}${n < calls ? ` (${n} of ${calls} calls)` : ""}`);
  prev = p50;
}
process.exit(0);
