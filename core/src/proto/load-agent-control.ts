import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { PROTO_LOADER_OPTIONS } from "./agent-messages.ts";
import { AGENT_PROTO_PATH } from "./proto-path.ts";

/**
 * The `AgentControl` gRPC service from `proto/agent.proto`, for the region's server and the
 * agent's client alike.
 *
 * @example
 * ```ts
 * const AgentControl = loadAgentControl();
 * server.addService(AgentControl.service, { Connect });
 * ```
 */
export const loadAgentControl = (): grpc.ServiceClientConstructor => {
  const definition = protoLoader.loadSync(AGENT_PROTO_PATH, PROTO_LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    ferry: { agent: { v1: { AgentControl: grpc.ServiceClientConstructor } } };
  };
  return pkg.ferry.agent.v1.AgentControl;
};
