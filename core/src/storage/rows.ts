import type { FunctionOptions } from "../domain/function-options.ts";

/** A workspace: the unit of ownership; every object belongs to exactly one. */
export interface WorkspaceRow { readonly id: string; readonly name: string; readonly createdAt: number }
/** A token as listed: never its secret, which is stored only as a hash. */
export interface TokenRow { readonly id: string; readonly workspaceId: string; readonly name: string; readonly createdAt: number; readonly revokedAt: number | null }
export interface AppRow {
  readonly id: string; readonly workspaceId: string; readonly name: string; readonly environment: string;
  readonly mode: "deployed" | "ephemeral"; readonly state: "running" | "stopped"; readonly bundleHash: string;
  readonly createdAt: number; readonly updatedAt: number;
}
export interface FunctionRow {
  readonly id: string; readonly appId: string; readonly workspaceId: string; readonly name: string;
  readonly options: FunctionOptions; readonly appName: string; readonly appState: "running" | "stopped";
  readonly bundleHash: string;
  /** Set when a redeploy dropped the function; it can no longer be called. */
  readonly removed: boolean;
}
export interface CallRow { readonly id: string; readonly workspaceId: string; readonly functionId: string; readonly region: string; readonly createdAt: number }
export interface RegionRow { readonly name: string; readonly url: string; readonly updatedAt: number }
