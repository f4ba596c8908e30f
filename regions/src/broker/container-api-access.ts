import { Effect } from "effect";
import type { Storage } from "@ferry/core";
import type { ContainerApi } from "./broker.ts";

/** Name of the tokens a region mints for containers' API bridge (listed by `ferry token list`). */
export const CONTAINER_TOKEN_NAME = "containers";

/**
 * What containers need to call the public API for user code: the edge's URL and a token of the
 * function's workspace. The region mints one token per workspace (named `containers`) on first
 * use and keeps it in memory, so a restarted region mints a new one; the token goes to agents
 * only and never into a sandbox. Without an API URL (`setApiUrl` not called yet) nothing is
 * offered and containers' API calls answer 503.
 *
 * @example
 * ```ts
 * const access = new ContainerApiAccess(storage);
 * access.setApiUrl(edge.url);
 * const { apiUrl, apiToken } = await access.forWorkspace("ws-123");
 * ```
 */
export class ContainerApiAccess {
  private apiUrl: string;
  private readonly storage: Storage["Service"];
  private readonly tokens = new Map<string, Promise<string>>();

  constructor(storage: Storage["Service"], apiUrl = "") {
    this.storage = storage;
    this.apiUrl = apiUrl;
  }

  /** Point containers at the public API (the edge's URL), once it is known. */
  setApiUrl(url: string): void {
    this.apiUrl = url.replace(/\/+$/, "");
  }

  forWorkspace(workspaceId: string): Promise<ContainerApi> {
    if (!this.apiUrl) return Promise.resolve({ apiUrl: "", apiToken: "" });
    let token = this.tokens.get(workspaceId);
    if (!token) {
      token = Effect.runPromise(this.storage.createToken(workspaceId, CONTAINER_TOKEN_NAME)).then((t) => t.secret);
      this.tokens.set(workspaceId, token);
      // A failed mint is retried by the next start instead of being remembered.
      token.catch(() => this.tokens.delete(workspaceId));
    }
    const apiUrl = this.apiUrl;
    return token.then((apiToken) => ({ apiUrl, apiToken }));
  }
}
