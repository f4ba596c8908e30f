// `npm run bench -- NAME [args]`: run one benchmark; its result is the last line of stdout (JSON).
const BENCHMARKS: Record<string, () => Promise<{ main(args: ReadonlyArray<string>): Promise<void> }>> = {
  coldstart: () => import("./coldstart.ts"),
  edge: () => import("./edge.ts"),
  failover: () => import("./failover.ts"),
  latency: () => import("./latency.ts"),
  map: () => import("./map.ts"),
  placement: () => import("./placement.ts"),
  trace: () => import("./trace.ts"),
};

const [name, ...rest] = process.argv.slice(2);
const names = Object.keys(BENCHMARKS).join(", ");
if (name === undefined || !Object.hasOwn(BENCHMARKS, name)) {
  process.stderr.write(`${name === undefined ? "no benchmark given" : `unknown benchmark ${JSON.stringify(name)}`}; available: ${names}\n`);
  process.stderr.write("usage: npm run bench -- <name> [--samples N | --inputs N --runs N]\n");
  process.exit(2);
}

try {
  const mod = await BENCHMARKS[name]();
  await mod.main(rest);
} catch (e) {
  process.stderr.write(`benchmark ${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}
