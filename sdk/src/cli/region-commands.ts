import { Effect, Option } from "effect";
import { Command, Flag } from "effect/cli";
import { FerryClient } from "../client/ferry-client.ts";
import { EXIT_WITH_PARENT_ENV, serveRegion } from "../platform/region-process.ts";
import { info, printTable, reportError } from "./cli-output.ts";

const action = <A>(f: (a: A) => Promise<void>) => (a: A) => Effect.promise(() => f(a).catch(reportError));
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print machine-readable JSON"), Flag.withDefault(false));

interface RegionListing { name: string; health: string; latencyMs: number | null; lastSeenMs: number; reason?: string }

const list = Command.make("list", { json }, action(async ({ json }) => {
  const { regions } = await (await FerryClient.fromEnvironment()).request<{ regions: RegionListing[] }>("GET", "/v1/regions");
  if (json) return void process.stdout.write(`${JSON.stringify(regions)}\n`);
  printTable(["REGION", "HEALTH", "LATENCY", "LAST SEEN"], regions.map((r) => [
    r.name, r.reason ? `${r.health} (${r.reason.slice(0, 60)})` : r.health,
    r.latencyMs === null ? "-" : `${r.latencyMs.toFixed(1)} ms`, `${(r.lastSeenMs / 1000).toFixed(1)} s ago`,
  ]));
})).pipe(Command.withDescription("Regions, their health and their latency from the edge, nearest first"));

const serve = Command.make("serve", {
  name: Flag.String("name").pipe(Flag.withDescription("The region's name, e.g. us-east")),
  nats: Flag.String("nats").pipe(Flag.withDescription("The region's own NATS URL")),
  stateNats: Flag.String("state-nats").pipe(Flag.withDescription("The state cluster's servers, comma-separated")),
  stateReplicas: Flag.Int("state-replicas").pipe(Flag.withDescription("Copies of the state log (default 3)"), Flag.optional),
  db: Flag.String("db").pipe(Flag.withDescription("This region's replica of the platform state (a libSQL file)")),
  dataDir: Flag.String("data-dir").pipe(Flag.withDescription("Where the region keeps image blocks and agent state")),
  agents: Flag.Int("agents").pipe(Flag.withDescription("Local agents to start in this process"), Flag.withDefault(0)),
  apiUrl: Flag.String("api-url").pipe(Flag.withDescription("The public API (edge) URL containers' API bridge calls"), Flag.optional),
  gpus: Flag.String("gpus").pipe(Flag.withDescription("Simulated GPUs on each local agent"), Flag.optional),
  host: Flag.String("host").pipe(Flag.withDescription("Listen address"), Flag.withDefault("127.0.0.1")),
  httpPort: Flag.Int("http-port").pipe(Flag.withDescription("Internal HTTP port for edges (0 picks a free one)"), Flag.withDefault(0)),
  grpcPort: Flag.Int("grpc-port").pipe(Flag.withDescription("gRPC port for agents (0 picks a free one)"), Flag.withDefault(0)),
}, action(async (f) => {
  const internalToken = process.env.FERRY_INTERNAL_TOKEN;
  const secretKey = process.env.FERRY_SECRET_KEY;
  if (!internalToken) throw new Error("set FERRY_INTERNAL_TOKEN to the platform's internal token");
  if (!secretKey) throw new Error("set FERRY_SECRET_KEY to the platform's secret key (the same in every region)");
  const served = await serveRegion({
    name: f.name, natsUrl: f.nats, stateNatsUrls: f.stateNats, stateReplicas: Option.getOrUndefined(f.stateReplicas), databasePath: f.db,
    dataDir: f.dataDir, agents: f.agents, apiUrl: Option.getOrUndefined(f.apiUrl), gpus: Option.getOrUndefined(f.gpus), internalToken, secretKey,
    host: f.host, httpPort: f.httpPort, grpcPort: f.grpcPort,
  });
  // One JSON line on stdout says where it listens (the multi-region platform reads it).
  process.stdout.write(`${JSON.stringify({ region: f.name, httpUrl: served.region.httpUrl, grpcAddress: served.region.grpcAddress })}\n`);
  info(`region ${f.name} serving at ${served.region.httpUrl} (agents: grpc ${served.region.grpcAddress})`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
    // Started by a platform process: go when it goes (its end of our stdin closes).
    if (process.env[EXIT_WITH_PARENT_ENV] === "1") {
      process.stdin.on("end", resolve);
      process.stdin.on("close", resolve);
      process.stdin.resume();
    }
  });
  await served.stop();
})).pipe(Command.withDescription("Run one region (its server, its replica of the state, its local agents) in this process"));

/** `ferry region list | serve`. */
export const regionCommand = Command.make("region").pipe(Command.withDescription("Regions"), Command.withSubcommands([list, serve]));
