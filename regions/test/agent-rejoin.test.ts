import * as grpc from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { loadAgentControl, type AgentMessage, type RegionCommand } from "@ferry/core/node";
import { HEARTBEAT_INTERVAL_MS, startAgentControlServer } from "../src/agents/agent-control-server.ts";
import { Fleet } from "../src/agents/fleet.ts";

/** The region's gRPC control channel, spoken to by a real gRPC client as an agent would. */

const closers: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("agent control channel", () => {
  it("an agent dropped for missed heartbeats on a still-open stream is taken back at its next heartbeat, and told to stop the containers the region gave up", async () => {
    const fleet = new Fleet();
    const server = await startAgentControlServer({ host: "127.0.0.1", port: 0, region: "local", fleet });
    closers.push(() => server.close());
    const AgentControl = loadAgentControl();
    const client = new AgentControl(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Connect(): grpc.ClientDuplexStream<AgentMessage, RegionCommand> };
    closers.push(() => client.close());
    const stream = client.Connect();
    closers.push(() => void stream.cancel());
    const received: RegionCommand[] = [];
    stream.on("data", (c: RegionCommand) => received.push(c));
    stream.on("error", () => undefined);
    stream.write({ body: "register", register: {
      agentId: "ag-stalled", region: "local", cloud: "local", capacity: { cpu: 2, memoryMib: 1024, gpus: [] }, version: "test",
      cloudRegion: "", zone: "", fabric: "", pricePerHour: 0, instanceType: "", simulatedGpus: false, providerNodeId: "", address: "127.0.0.1",
    } } as AgentMessage);
    for (let i = 0; i < 50 && !fleet.agents.has("ag-stalled"); i++) await sleep(20);
    expect(fleet.agents.has("ag-stalled")).toBe(true);
    // Silence past three heartbeats: the region drops it, the stream stays open.
    for (let i = 0; i < 100 && fleet.agents.has("ag-stalled"); i++) await sleep(HEARTBEAT_INTERVAL_MS / 10);
    expect(fleet.agents.has("ag-stalled")).toBe(false);
    stream.write({ body: "heartbeat", heartbeat: { containers: [{ containerId: "ct-old", functionId: "fn-1", state: "running", reason: "" }] } } as AgentMessage);
    for (let i = 0; i < 50 && !fleet.agents.has("ag-stalled"); i++) await sleep(20);
    expect(fleet.agents.has("ag-stalled")).toBe(true);
    for (let i = 0; i < 50 && !received.some((c) => c.body === "stop"); i++) await sleep(20);
    const stop = received.find((c) => c.body === "stop");
    expect(stop && stop.body === "stop" ? stop.stop.containerId : undefined).toBe("ct-old");
  }, 20_000);
});
