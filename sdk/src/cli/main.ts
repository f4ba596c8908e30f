import { NodeServices } from "@effect/platform-node";
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import { FerryClient } from "../client/ferry-client.ts";
import { removeProfileFor, writeProfile } from "../config/client-config.ts";
import { FunctionCall } from "../functions/function-call.ts";
import { startLocalPlatform } from "../platform/local-platform.ts";
import { cliState, info, printTable, reportError, resultJson } from "./cli-output.ts";
import { deployFile } from "./deploy-file.ts";
import { runFile } from "./run-command.ts";
import { containerCommand, shellCommand } from "./sandbox-commands.ts";
import { secretCommand } from "./secret-commands.ts";
import { volumeCommand } from "./volume-commands.ts";
import { imageCommand } from "./image-commands.ts";
import { serveCommand } from "./serve-command.ts";
import { dictCommand, queueCommand } from "./store-commands.ts";
import { streamAppLogs } from "./stream-logs.ts";
import { regionCommand } from "./region-commands.ts";
import { startMultiRegionPlatform } from "../platform/multi-region-platform.ts";
import { endpointUrls, formatEndpointLine } from "../endpoints/endpoint-urls.ts";

const VERSION = "0.1.0";

/** Run a handler; failures print one line (stack with --verbose) and set a non-zero exit code. */
const action = <A>(f: (a: A) => Promise<void>) => (a: A) => Effect.promise(() => f(a).catch(reportError));
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print machine-readable JSON"), Flag.withDefault(false));
const client = () => FerryClient.fromEnvironment();
const waitForSignal = () => new Promise<void>((resolve) => {
  process.once("SIGINT", resolve);
  process.once("SIGTERM", resolve);
});

const up = Command.make("up", {
  agents: Flag.Int("agents").pipe(Flag.withDescription("Agents to start"), Flag.withDefault(1)),
  port: Flag.Int("port").pipe(Flag.withDescription("Edge port (0 picks a free one)"), Flag.withDefault(0)),
  stateDir: Flag.String("state-dir").pipe(Flag.withDescription("Where NATS and libSQL keep state"), Flag.optional),
  gpus: Flag.String("gpus").pipe(Flag.withDescription("Simulated GPUs on each local agent, e.g. H100:8"), Flag.optional),
  simulateClouds: Flag.Boolean("simulate-clouds").pipe(
    Flag.withDescription("Let the broker provision nodes from simulated clouds priced by the real GPU catalogs (as local agent processes)"),
    Flag.withDefault(false)),
  regions: Flag.String("regions").pipe(Flag.withDescription("Start several regions, e.g. us-east,eu-west: each with its own NATS and processes, state replicated"), Flag.optional),
}, action(async ({ agents, port, stateDir, gpus, simulateClouds, regions }) => {
  const regionList = Option.getOrUndefined(regions)?.split(",").map((r) => r.trim()).filter((r) => r.length > 0);
  if (regionList !== undefined && regionList.length > 1) {
    if (simulateClouds) throw new Error("--simulate-clouds runs with one region for now; leave out --regions or --simulate-clouds");
    const multi = await startMultiRegionPlatform({ regions: regionList, agentsPerRegion: agents, port, stateDir: Option.getOrUndefined(stateDir), gpus: Option.getOrUndefined(gpus) });
    const profile = await writeProfile({ url: multi.url, token: multi.token });
    process.stdout.write(`Ferry is up with regions ${regionList.join(", ")}\n  url:   ${multi.url}\n  token: ${multi.token}\n  state: ${multi.stateDir} (state cluster ${multi.stateCluster.urls})\n${
      multi.regions.map((r) => `  region ${r.name}: ${r.httpUrl}, nats ${r.natsUrl}, ${agents} agent(s)`).join("\n")}\nprofile written to ${profile}; stop with Ctrl-C\n`);
    await waitForSignal();
    info("stopping");
    await removeProfileFor(multi.url);
    await multi.stop();
    return;
  }
  const platform = await startLocalPlatform({
    region: regionList?.[0],
    agents, port, stateDir: Option.getOrUndefined(stateDir), gpus: Option.getOrUndefined(gpus), providers: simulateClouds ? {} : undefined,
  });
  const profile = await writeProfile({ url: platform.url, token: platform.token });
  process.stdout.write(`Ferry is up\n  url:   ${platform.url}\n  token: ${platform.token}\n  nats:  ${platform.natsUrl}\n  state: ${platform.stateDir}\n  agents: ${agents}\nprofile written to ${profile}; stop with Ctrl-C\n`);
  await waitForSignal();
  info("stopping");
  await removeProfileFor(platform.url);
  await platform.stop();
})).pipe(Command.withDescription("Start the whole platform on this machine: NATS, libSQL, edge, region, agents"));

const run = Command.make("run", {
  target: Argument.String("file").pipe(Argument.withDescription("FILE or FILE::function")),
  args: Argument.String("args").pipe(Argument.variadic()),
}, action(({ target, args }) => runFile(target, args))).pipe(Command.withDescription("Run an app ephemerally: its local entrypoint, or one function"));

const deploy = Command.make("deploy", {
  file: Argument.String("file"),
  env: Flag.String("env").pipe(Flag.withDescription("Environment"), Flag.optional),
  region: Flag.String("region").pipe(Flag.withDescription("Deploy to exactly these regions, e.g. us-east,eu-west (default: every region)"), Flag.optional),
  json,
}, action(async ({ file, env, region, json }) => {
  const c = await client();
  const regions = Option.getOrUndefined(region)?.split(",").map((r) => r.trim()).filter((r) => r.length > 0);
  const deployed = await deployFile(c, file, { mode: "deployed", environment: Option.getOrUndefined(env), regions, onProgress: json ? undefined : info });
  await deployed.dispose();
  const r = deployed.response;
  // Web endpoints: their public URLs.
  const hasEndpoints = deployed.discovered.functions.some((f) => f.options.endpoint !== undefined);
  const endpoints = hasEndpoints ? await endpointUrls(c, r.app.name, r.app.environment) : [];
  if (json) process.stdout.write(`${JSON.stringify(hasEndpoints ? { ...r, endpoints } : r)}\n`);
  else {
    process.stdout.write(`deployed app ${r.app.name} (${r.app.id}) in environment ${r.app.environment}\n`);
    for (const f of r.functions) process.stdout.write(`  ${r.app.name}.${f.name}  ${f.id}  Function.lookup("${r.app.name}", "${f.name}")\n`);
    if (endpoints.length > 0) process.stdout.write(`web endpoints:\n${endpoints.map(formatEndpointLine).join("\n")}\n`);
  }
})).pipe(Command.withDescription("Deploy an app for good"));

const appList = Command.make("list", { json }, action(async ({ json }) => {
  const { apps } = await (await client()).request<{ apps: Array<{ id: string; name: string; mode: string; state: string; environment: string; functions: string[]; createdAt: number; nextRuns?: Array<{ function: string; at: number }> }> }>("GET", "/v1/apps");
  if (json) return void process.stdout.write(`${JSON.stringify(apps)}\n`);
  printTable(["ID", "NAME", "ENV", "MODE", "STATE", "FUNCTIONS", "CREATED", "NEXT RUN"],
    apps.map((a) => [a.id, a.name, a.environment, a.mode, a.state, a.functions.join(","), new Date(a.createdAt).toISOString(),
      (a.nextRuns ?? []).map((r) => `${r.function}@${new Date(r.at).toISOString()}`).join(", ")]));
}));
const appLogs = Command.make("logs", {
  app: Argument.String("app"),
  follow: Flag.Boolean("follow").pipe(Flag.withAlias("f"), Flag.withDefault(false)),
  json,
}, action(async ({ app, follow, json }) => {
  const c = await client();
  const ctl = new AbortController();
  process.once("SIGINT", () => ctl.abort());
  await streamAppLogs(c, app, { follow, signal: ctl.signal, json });
}));
const appStop = Command.make("stop", { app: Argument.String("app") }, action(async ({ app }) => {
  const r = await (await client()).request<{ name: string; id: string }>("POST", `/v1/apps/${encodeURIComponent(app)}/stop`);
  process.stdout.write(`stopped app ${r.name} (${r.id})\n`);
}));
const appCmd = Command.make("app").pipe(Command.withDescription("Apps and their logs"), Command.withSubcommands([appList, appLogs, appStop]));

const callGet = Command.make("get", {
  id: Argument.String("id"),
  timeout: Flag.Finite("timeout").pipe(Flag.withDescription("Seconds to wait"), Flag.optional),
}, action(async ({ id, timeout }) => {
  const value = await new FunctionCall(id, await client()).get({ timeout: Option.getOrUndefined(timeout) });
  process.stdout.write(`${resultJson(value)}\n`);
}));
const callCancel = Command.make("cancel", { id: Argument.String("id") }, action(async ({ id }) => {
  await new FunctionCall(id, await client()).cancel();
  process.stdout.write(`cancelled ${id}\n`);
}));
const callCmd = Command.make("call").pipe(Command.withDescription("Spawned calls"), Command.withSubcommands([callGet, callCancel]));

const tokenNew = Command.make("new", {
  name: Flag.String("name").pipe(Flag.withDefault("cli")),
  endpoint: Flag.String("endpoint").pipe(Flag.withDescription("Make a token that opens only this app's auth: \"token\" web endpoints"), Flag.optional),
  json,
}, action(async ({ name, endpoint, json }) => {
  if (Option.isSome(endpoint)) {
    const t = await (await client()).request<{ id: string; name: string; app: string; token: string }>("POST", "/v1/endpoint-tokens", { app: endpoint.value, ...(name === "cli" ? {} : { name }) });
    return void process.stdout.write(json ? `${JSON.stringify(t)}\n` : `endpoint token ${t.id} (${t.name}) for app ${t.app}'s web endpoints: ${t.token}\nit is shown once; store it now\n`);
  }
  const t = await (await client()).request<{ id: string; name: string; token: string }>("POST", "/v1/tokens", { name });
  process.stdout.write(json ? `${JSON.stringify(t)}\n` : `token ${t.id} (${t.name}): ${t.token}\nit is shown once; store it now\n`);
}));
const tokenList = Command.make("list", { json }, action(async ({ json }) => {
  const { tokens } = await (await client()).request<{ tokens: Array<{ id: string; name: string; createdAt: number; revokedAt: number | null }> }>("GET", "/v1/tokens");
  if (json) return void process.stdout.write(`${JSON.stringify(tokens)}\n`);
  printTable(["ID", "NAME", "CREATED", "REVOKED"], tokens.map((t) => [t.id, t.name, new Date(t.createdAt).toISOString(), t.revokedAt ? new Date(t.revokedAt).toISOString() : ""]));
}));
const tokenRevoke = Command.make("revoke", { id: Argument.String("id") }, action(async ({ id }) => {
  await (await client()).request("DELETE", `/v1/tokens/${id}`);
  process.stdout.write(`revoked ${id}\n`);
}));
const tokenCmd = Command.make("token").pipe(Command.withDescription("API tokens"), Command.withSubcommands([tokenNew, tokenList, tokenRevoke]));

const optionalString = (name: string, description: string) => Flag.String(name).pipe(Flag.withDescription(description), Flag.optional);
const agent = Command.make("agent", {
  region: Flag.String("region").pipe(Flag.withDefault("local")),
  cloud: Flag.String("cloud").pipe(Flag.withDefault("local")),
  regionAddress: Flag.String("region-address").pipe(Flag.withDescription("host:port of the region's gRPC control channel")),
  nats: Flag.String("nats").pipe(Flag.withDescription("NATS URL")),
  stateDir: Flag.String("state-dir"),
  gpus: optionalString("gpus", "Simulated GPU inventory, e.g. H100:8 (default: what nvidia-smi reports)"),
  cpu: Flag.Finite("cpu").pipe(Flag.withDescription("CPU cores offered (default: all)"), Flag.optional),
  memory: Flag.Int("memory").pipe(Flag.withDescription("Memory offered, MiB (default: all)"), Flag.optional),
  cloudRegion: optionalString("cloud-region", "The node's region in its cloud, e.g. us-east-1"),
  zone: optionalString("zone", "The node's zone in its cloud"),
  fabric: optionalString("fabric", "The node's RDMA fabric id (nodes on one fabric can form clusters)"),
  pricePerHour: Flag.Finite("price-per-hour").pipe(Flag.withDescription("The node's list price, USD per hour"), Flag.optional),
  instanceType: optionalString("instance-type", "The node's instance type"),
  providerNodeId: optionalString("provider-node-id", "Set by the capacity provider that started this node"),
  usableGpus: Flag.Int("fault-usable-gpus").pipe(Flag.withDescription("Fault injection: bid on every GPU but use only this many"), Flag.optional),
  warmPool: Flag.Int("warm-pool").pipe(Flag.withDescription("Runtime sandboxes kept pre-started for cold starts of the default image (default 2, 0 turns it off, at most 16)"), Flag.optional),
}, action(async (f) => {
  const internalToken = process.env.FERRY_INTERNAL_TOKEN;
  if (!internalToken) throw new Error("set FERRY_INTERNAL_TOKEN to the platform's internal token");
  const { startAgent, parseSimulatedGpus, detectGpus } = await import("@ferry/gpu-agent");
  const o = <A>(x: Option.Option<A>) => Option.getOrUndefined(x);
  const gpuSpec = o(f.gpus);
  const usableGpus = o(f.usableGpus);
  const a = await startAgent({
    region: f.region, cloud: f.cloud, regionAddress: f.regionAddress, natsUrl: f.nats, stateDir: f.stateDir, internalToken,
    gpus: gpuSpec !== undefined ? parseSimulatedGpus(gpuSpec) : await detectGpus(),
    cpu: o(f.cpu), memoryMiB: o(f.memory), cloudRegion: o(f.cloudRegion), zone: o(f.zone), fabric: o(f.fabric),
    pricePerHour: o(f.pricePerHour), instanceType: o(f.instanceType), providerNodeId: o(f.providerNodeId),
    faults: usableGpus === undefined ? undefined : { usableGpus }, warmPool: o(f.warmPool),
  });
  info(`agent ${a.agentId} registered with ${f.regionAddress}`);
  await waitForSignal();
  await a.close();
})).pipe(Command.withDescription("Run a node agent (for nodes joining a region)"));

const usage = Command.make("usage", {
  since: Flag.String("since").pipe(Flag.withDescription("Window: 7d, 12h, 30m or an ISO date"), Flag.withDefault("7d")),
  by: Flag.String("by").pipe(Flag.withDescription("Group by some of app,function,gpu,cloud,region"), Flag.withDefault("app,function,gpu,cloud")),
  json,
}, action(async ({ since, by, json }) => {
  const r = await (await client()).request<{ lines: Array<{ keys: Record<string, string>; containerSeconds: number; gpuSeconds: number; costUsd: number }>; totalCostUsd: number; by: string[] }>(
    "GET", `/v1/usage?since=${encodeURIComponent(since)}&by=${encodeURIComponent(by)}`);
  if (json) return void process.stdout.write(`${JSON.stringify(r)}\n`);
  printTable([...r.by.map((k) => k.toUpperCase()), "CONTAINER-S", "GPU-S", "COST (USD)"],
    r.lines.map((l) => [...r.by.map((k) => l.keys[k] ?? ""), l.containerSeconds.toFixed(1), l.gpuSeconds.toFixed(1), l.costUsd.toFixed(4)]));
  process.stdout.write(`total ${r.totalCostUsd.toFixed(4)} USD since ${since}\n`);
})).pipe(Command.withDescription("Metered usage and cost, per second"));

interface MarketOffer { source: string; cloud: string; cloudRegion: string; gpuType: string; gpusPerNode: number; pricePerHour: number; pricePerGpuHour: number; available: number; instanceType: string }
const gpuMarket = Command.make("market", {
  gpu: Flag.String("gpu").pipe(Flag.withDescription("Only this GPU type"), Flag.optional),
  json,
}, action(async ({ gpu, json }) => {
  const r = await (await client()).request<{ regions: Array<{ region: string; offers: MarketOffer[] }> }>("GET", "/v1/gpu/market");
  const want = Option.getOrUndefined(gpu)?.toLowerCase();
  const rows = r.regions.flatMap((reg) => reg.offers.map((o) => ({ region: reg.region, ...o })))
    .filter((o) => want === undefined || o.gpuType.toLowerCase() === want);
  if (json) return void process.stdout.write(`${JSON.stringify(rows)}\n`);
  printTable(["REGION", "CLOUD", "CLOUD-REGION", "GPU", "PER-NODE", "USD/GPU-H", "USD/NODE-H", "AVAILABLE", "SOURCE", "INSTANCE"],
    rows.map((o) => [o.region, o.cloud, o.cloudRegion, o.gpuType, String(o.gpusPerNode), o.pricePerGpuHour.toFixed(3), o.pricePerHour.toFixed(3),
      o.available < 0 ? "on demand" : String(o.available), o.source, o.instanceType]));
})).pipe(Command.withDescription("GPU capacity on offer per cloud, region and type, with prices"));
const gpuCmd = Command.make("gpu").pipe(Command.withDescription("GPU capacity"), Command.withSubcommands([gpuMarket]));

const root = Command.make("ferry").pipe(
  Command.withDescription("Ferry: serverless compute for TypeScript"),
  Command.withSubcommands([up, run, deploy, serveCommand, shellCommand, containerCommand, appCmd, callCmd, tokenCmd, agent, regionCommand, usage, gpuCmd, dictCommand, queueCommand, secretCommand, volumeCommand, imageCommand]),
);

/** The `ferry` CLI's entry: parse `argv` (without node and script) and run. */
export const main = (argv: ReadonlyArray<string>): void => {
  cliState.verbose = argv.includes("--verbose");
  const args = argv.filter((a) => a !== "--verbose");
  const program = Command.runWith(root, { version: VERSION })(args).pipe(Effect.provide(NodeServices.layer));
  // Exit once the command is done: pooled HTTP and gRPC sockets must not hold the CLI open.
  Effect.runPromise(program).then(
    () => process.exit(process.exitCode ?? 0),
    (e: unknown) => {
      // effect/cli already printed help or the parse error it stands for.
      if (!`${String(e)} ${(e as Error)?.message}`.includes("effect/cli/CliError")) reportError(e);
      process.exit(process.exitCode ?? 1);
    },
  );
};
