export * from "./edge-app.ts";
export * from "./edge-env.ts";
export * from "./node-server.ts";
export * from "./regions/choose-region.ts";
