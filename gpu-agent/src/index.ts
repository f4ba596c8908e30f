export * from "./agent.ts";
export * from "./inventory/gpu-inventory.ts";
