/** Absolute path of the agent ↔ region gRPC contract, for `@grpc/proto-loader`. */
export const AGENT_PROTO_PATH = new URL("../../proto/agent.proto", import.meta.url).pathname;
