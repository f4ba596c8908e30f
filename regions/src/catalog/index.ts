export * from "./gpu-offer.ts";
export * from "./parse-vm-csv.ts";
export * from "./nominal-gpu-memory.ts";
export * from "./summarise-gpu-types.ts";
export * from "./load-gpu-catalog.ts";
