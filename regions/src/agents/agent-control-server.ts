import * as grpc from "@grpc/grpc-js";
import { loadAgentControl, type AgentMessage, type RegionCommand } from "@ferry/core/node";
import type { Fleet } from "./fleet.ts";

/** How often agents heartbeat; three missed beats and the region drops the agent. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
const MISSED_BEATS_BEFORE_DROP = 3;

/**
 * The region's gRPC server: one bidirectional stream per agent. The first message must be
 * `register`; the stream's end (or three missed heartbeats) removes the agent and its containers.
 */
export const startAgentControlServer = async (opts: { host: string; port: number; region: string; fleet: Fleet }): Promise<{ port: number; close: () => Promise<void> }> => {
  const server = new grpc.Server();
  const AgentControl = loadAgentControl();
  server.addService(AgentControl.service, {
    Connect: (call: grpc.ServerDuplexStream<AgentMessage, RegionCommand>) => {
      let agentId: string | undefined;
      const drop = () => {
        if (agentId) opts.fleet.removeAgent(agentId);
        agentId = undefined;
      };
      call.on("data", (msg: AgentMessage) => {
        switch (msg.body) {
          case "register":
            agentId = msg.register.agentId;
            opts.fleet.addAgent(msg.register, (command) => call.write(command));
            call.write({ body: "registered", registered: { region: opts.region, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS } });
            break;
          case "heartbeat":
            if (agentId) opts.fleet.reconcileHeartbeat(agentId, msg.heartbeat.containers);
            break;
          case "container":
            if (agentId) opts.fleet.report(agentId, msg.container);
            break;
          case "bid":
            if (agentId) opts.fleet.receiveBid(agentId, msg.bid);
            break;
          case "snapshotTaken":
            if (agentId) opts.fleet.relay(agentId, msg);
            break;
        }
      });
      call.on("end", () => {
        drop();
        call.end();
      });
      call.on("error", drop);
      call.on("cancelled", drop);
    },
  });
  const watchdog = setInterval(() => {
    const cutoff = Date.now() - HEARTBEAT_INTERVAL_MS * MISSED_BEATS_BEFORE_DROP;
    for (const [id, a] of opts.fleet.agents) if (a.lastSeen < cutoff) opts.fleet.removeAgent(id);
  }, HEARTBEAT_INTERVAL_MS);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    port,
    close: async () => {
      clearInterval(watchdog);
      server.forceShutdown();
    },
  };
};
