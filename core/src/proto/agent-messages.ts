// TypeScript shapes of the messages in proto/agent.proto as @grpc/proto-loader decodes them
// (camelCase fields, `oneofs: true` so each oneof carries its case in `body`).

export interface Resources { cpu: number; memoryMib: number; gpus: string[] }
export interface Register {
  agentId: string; region: string; cloud: string; capacity: Resources; version: string;
  cloudRegion: string; zone: string; fabric: string; pricePerHour: number; instanceType: string;
  simulatedGpus: boolean; providerNodeId: string; address: string;
}
export type ContainerState = "starting" | "running" | "stopped" | "failed";
export interface ContainerReport { containerId: string; functionId: string; state: ContainerState; reason: string }
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
  | { body: "bid"; bid: AgentBid };

export interface StartContainer {
  containerId: string; functionId: string; appId: string; appName: string; functionName: string;
  bundleHash: string; optionsJson: string; bundleUrl: string;
  gpuIndices: number[]; env: Record<string, string>; cpu: number; memoryMib: number;
}
export interface StopContainer { containerId: string; reason: string }
export interface Registered { region: string; heartbeatIntervalMs: number }

export type RegionCommand =
  | { body: "registered"; registered: Registered }
  | { body: "start"; start: StartContainer }
  | { body: "stop"; stop: StopContainer }
  | { body: "callForBids"; callForBids: CallForBids };

/** proto-loader options used on both ends. */
export const PROTO_LOADER_OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true } as const;
