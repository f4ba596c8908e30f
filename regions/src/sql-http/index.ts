export * from "./sql-executor.ts";
export * from "./sql-http-routes.ts";
export * from "./hrana-errors.ts";
export * from "./hrana-messages.ts";
