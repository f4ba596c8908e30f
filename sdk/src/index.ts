export { App, type AppOptions, type LocalEntrypoint } from "./app.ts";
export { FerryFunction } from "./functions/function-handle.ts";
export type { FunctionOptions, RetryOptions } from "./functions/function-options.ts";
export { FunctionCall } from "./functions/function-call.ts";
export { Function } from "./functions/function-lookup.ts";
export type { MapOptions } from "./functions/map-inputs.ts";
export { FerryApiError, FunctionCallCancelledError, FunctionTimeoutError, NotConfiguredError, OutputTimeoutError } from "./errors.ts";
export { setClientConfig, type ClientConfig } from "./config/client-config.ts";
export { FerryClient } from "./client/ferry-client.ts";
