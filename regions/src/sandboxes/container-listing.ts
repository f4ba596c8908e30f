import type { TrackedContainer } from "../agents/fleet.ts";

/** One live container or sandbox of a workspace, as `ferry container list` shows it. */
export interface ContainerListing {
  /** The container id, or the sandbox id for a sandbox (what `ferry container exec` takes). */
  readonly id: string;
  readonly kind: "function" | "sandbox";
  readonly containerId: string;
  readonly appId: string;
  readonly app: string;
  /** The function it runs (or a sandbox mirrors); "" for a plain sandbox. */
  readonly function: string;
  readonly agent: string;
  readonly state: "starting" | "running";
  readonly startedAt: number;
  /** Since when it has had no work (no input in hand, no exec running); null while busy. */
  readonly idleSince: number | null;
}

/** What the listing needs to know about a sandbox's container. */
export interface SandboxOfContainer {
  readonly sandboxId: string;
  readonly functionName: string;
  readonly idleSince: number | null;
}

/**
 * The live containers of one workspace, function containers and sandboxes alike, oldest first.
 *
 * @example
 * ```ts
 * listContainers(fleet.containers.values(), (id) => sandboxes.describe(id), "ws-1");
 * ```
 */
export const listContainers = (
  containers: Iterable<TrackedContainer>,
  sandboxOf: (containerId: string) => SandboxOfContainer | undefined,
  workspaceId: string,
): ContainerListing[] => {
  const out: ContainerListing[] = [];
  for (const c of containers) {
    if (c.workspaceId !== workspaceId) continue;
    const sandbox = sandboxOf(c.containerId);
    out.push({
      id: sandbox?.sandboxId ?? c.containerId,
      kind: sandbox ? "sandbox" : "function",
      containerId: c.containerId,
      appId: c.appId,
      app: c.appName,
      function: sandbox ? sandbox.functionName : c.functionName,
      agent: c.agentId,
      state: c.state,
      startedAt: c.startedAt,
      idleSince: sandbox ? sandbox.idleSince : (c.idleSince ?? null),
    });
  }
  return out.sort((a, b) => a.startedAt - b.startedAt);
};
