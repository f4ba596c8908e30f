export { Sandbox, type SandboxCreateOptions, type SandboxInfo } from "./sandbox.ts";
export { SandboxSnapshot } from "./sandbox-snapshot.ts";
export { ContainerProcess, type ExecExit, type ExecOptions } from "./container-process.ts";
export { ExecOutputStream } from "./exec-output-stream.ts";
export { ExecStdin } from "./exec-stdin.ts";
