/** Sandboxes: the wire contract (subjects, exec events, requests) and their state in libSQL. */
export * from "./sandbox-subjects.ts";
export * from "./exec-events.ts";
export * from "./sandbox-options.ts";
export * from "./sandbox-store.ts";
