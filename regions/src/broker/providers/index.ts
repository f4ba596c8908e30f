export * from "./capacity-provider.ts";
export * from "./node-launcher.ts";
export * from "./request-fit.ts";
export * from "./launched-nodes.ts";
export * from "./simulated-provider.ts";
export * from "./local-provider.ts";
export * from "./choose-quote.ts";
