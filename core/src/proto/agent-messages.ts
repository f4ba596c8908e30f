// TypeScript shapes of the messages in proto/agent.proto as @grpc/proto-loader decodes them
// (camelCase fields, `oneofs: true` so each oneof carries its case in `body`).

export interface Resources { cpu: number; memoryMib: number; gpus: string[] }
export interface Register {
  agentId: string; region: string; cloud: string; capacity: Resources; version: string;
  cloudRegion: string; zone: string; fabric: string; pricePerHour: number; instanceType: string;
  simulatedGpus: boolean; providerNodeId: string; address: string;
  /** The agent's web endpoint fast path port (0 or absent: none). */
  endpointPort?: number;
}
export type ContainerState = "starting" | "running" | "stopped" | "failed";
export interface ContainerReport {
  containerId: string; functionId: string; state: ContainerState; reason: string;
  /** Web endpoint requests held on the fast path now, and taken since the last heartbeat. */
  fastInFlight?: number; fastServed?: number;
}
export interface Heartbeat { containers: ContainerReport[] }

export interface Demand { demandId: string; functionId: string; bundleHash: string; cpu: number; memoryMib: number; gpu: string[] }
export interface CallForBids { auctionId: string; demands: Demand[] }
export interface AgentBid {
  auctionId: string; pricePerHour: number; freeCpu: number; freeMemoryMib: number; freeGpuIndices: number[];
  baseStartLatencyMs: number; startLatencyMsByFunction: Record<string, number>; runningContainers: number;
}

export type AgentMessage =
  | { body: "register"; register: Register }
  | { body: "heartbeat"; heartbeat: Heartbeat }
  | { body: "container"; container: ContainerReport }
  | { body: "bid"; bid: AgentBid }
  | { body: "snapshotTaken"; snapshotTaken: SnapshotTaken };

export interface StartContainer {
  containerId: string; functionId: string; appId: string; appName: string; functionName: string;
  bundleHash: string; optionsJson: string; bundleUrl: string;
  gpuIndices: number[]; env: Record<string, string>; cpu: number; memoryMib: number;
  /** Mount path → volume id; `startError`: why the region could not prepare it ("" when it could). */
  volumes?: Record<string, string>; startError?: string;
  /** Set (non-null) when the container is a sandbox. */
  sandbox?: SandboxStart | null;
  /** The edge's URL and a workspace token for the container's API bridge; "" when not offered. */
  apiUrl?: string; apiToken?: string;
}
export interface StopContainer { containerId: string; reason: string }
export interface Registered { region: string; heartbeatIntervalMs: number }

export type RegionCommand =
  | { body: "registered"; registered: Registered }
  | { body: "start"; start: StartContainer }
  | { body: "stop"; stop: StopContainer }
  | { body: "callForBids"; callForBids: CallForBids }
  | { body: "exec"; exec: StartExec }
  | { body: "snapshot"; snapshot: TakeSnapshot };

/** A sandbox's own settings (StartContainer.sandbox); 0 / "" mean none. */
export interface SandboxStart {
  sandboxId: string; timeoutS: number; idleTimeoutS: number; memoryLimitMib: number; cpuLimit: number;
  snapshotHash: string; workdir: string;
}
/** Run a process in a sandbox or a function container; stdio on `SandboxSubjects` of `targetId`. */
export interface StartExec {
  containerId: string; execId: string; targetId: string; argv: string[]; env: Record<string, string>; workdir: string; pty: boolean;
}
export interface TakeSnapshot { containerId: string; requestId: string; uploadUrl: string }
export interface SnapshotTaken { containerId: string; requestId: string; hash: string; sizeBytes: number; error: string }

/** proto-loader options used on both ends. */
export const PROTO_LOADER_OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true } as const;
