export * from "./region-server.ts";
export * from "./http/internal-api.ts";
export * from "./scheduler/plan-scale.ts";
export * from "./scheduler/place-container.ts";
export * from "./calls/enqueue-inputs.ts";
export * from "./agents/agent-control-server.ts";
