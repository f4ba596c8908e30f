// Node-only adapters (also fine on Bun and Deno); never imported by code that runs on workerd.
export * from "./storage/libsql-file.ts";
export * from "./bus/connect-node.ts";
export { AGENT_PROTO_PATH } from "./proto/proto-path.ts";
export * from "./proto/agent-messages.ts";
export * from "./http/listen-http.ts";
export * from "./proto/load-agent-control.ts";
