import type { Storage } from "@ferry/core";

/** What the edge needs from its host runtime; on Workers these come from bindings. */
export interface EdgeDeps {
  readonly storage: Storage["Service"];
  /** Secret shared with regions for their internal API. */
  readonly internalToken: string;
  /** `fetch` used to reach regions (the global one by default). */
  readonly fetch?: typeof fetch;
  /** The replicated state's sequence this edge has seen; regions answer once they applied as much. */
  readonly stateSeq?: () => number;
}

/** Hono variables set by the auth middleware. */
export interface EdgeVariables {
  workspaceId: string;
  tokenId: string;
}

export type EdgeEnv = { Variables: EdgeVariables };
