export { Sandbox, type SandboxCreateOptions, type SandboxInfo } from "./sandbox.ts";
export { ContainerProcess, type ExecExit, type ExecOptions } from "./container-process.ts";
export { ExecOutputStream } from "./exec-output-stream.ts";
export { ExecStdin } from "./exec-stdin.ts";
