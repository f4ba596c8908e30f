import * as grpc from "@grpc/grpc-js";
import { loadAgentControl, type AgentMessage, type RegionCommand } from "@ferry/core/node";
import type { Fleet } from "./fleet.ts";

/** How often agents heartbeat; three missed beats and the region drops the agent. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
const MISSED_BEATS_BEFORE_DROP = 3;

/**
 * The region's gRPC server: one bidirectional stream per agent. The first message must be
 * `register`; the stream's end (or three missed heartbeats) removes the agent and its containers.
 * An agent dropped for missed heartbeats whose stream is still open is taken back at its next
 * heartbeat (the containers it had are stopped: the region has replaced them).
 */
export const startAgentControlServer = async (opts: { host: string; port: number; region: string; fleet: Fleet }): Promise<{ port: number; close: () => Promise<void> }> => {
  const server = new grpc.Server();
  const AgentControl = loadAgentControl();
  server.addService(AgentControl.service, {
    Connect: (call: grpc.ServerDuplexStream<AgentMessage, RegionCommand>) => {
      let agentId: string | undefined;
      let registration: Extract<AgentMessage, { body: "register" }>["register"] | undefined;
      const send = (command: RegionCommand) => call.write(command);
      const drop = () => {
        if (agentId) opts.fleet.removeAgent(agentId);
        agentId = undefined;
      };
      call.on("data", (msg: AgentMessage) => {
        switch (msg.body) {
          case "register":
            agentId = msg.register.agentId;
            registration = msg.register;
            opts.fleet.addAgent(msg.register, send);
            call.write({ body: "registered", registered: { region: opts.region, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS } });
            break;
          case "heartbeat":
            if (agentId && registration && !opts.fleet.agents.has(agentId)) {
              // Dropped for silence while its stream stayed open (its process stalled): take it back.
              // The containers it had were given up for lost: it stops them, the autoscaler replaced them.
              opts.fleet.addAgent(registration, send);
              for (const c of msg.heartbeat.containers) {
                if (!opts.fleet.containers.has(c.containerId)) send({ body: "stop", stop: { containerId: c.containerId, reason: "the region had given this agent up for lost" } });
              }
            }
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
