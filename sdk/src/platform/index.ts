export * from "./local-platform.ts";
export * from "./nats-server.ts";
