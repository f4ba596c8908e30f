import { describe, expect, it } from "vitest";
import type { TrackedContainer } from "../src/agents/fleet.ts";
import { listContainers } from "../src/sandboxes/container-listing.ts";
import { isLineOf } from "../src/sandboxes/container-logs.ts";
import { EventQueue } from "../src/sandboxes/event-queue.ts";

const container = (containerId: string, overrides: Partial<TrackedContainer> = {}): TrackedContainer => ({
  containerId, functionId: "fn-1", agentId: "ag-1", cpu: 1, memoryMiB: 512, gpuIndices: [], gpuType: "", cloud: "local", pricePerSecond: 0,
  workspaceId: "ws-1", appId: "ap-1", appName: "demo", functionName: "square", state: "running", startedAt: 1_000, ...overrides,
});

describe("the container listing", () => {
  it("shows one workspace's function containers and sandboxes, oldest first", () => {
    const listed = listContainers([
      container("ct-b", { startedAt: 2_000, idleSince: 2_500 }),
      container("ct-a", { startedAt: 1_000, state: "starting" }),
      container("ct-other", { workspaceId: "ws-2" }),
      container("ct-sb", { functionId: "sb-1", functionName: "sandbox", startedAt: 3_000 }),
    ], (id) => (id === "ct-sb" ? { sandboxId: "sb-1", functionName: "", idleSince: 3_500 } : undefined), "ws-1");
    expect(listed.map((c) => [c.id, c.kind, c.function, c.state, c.idleSince])).toEqual([
      ["ct-a", "function", "square", "starting", null],
      ["ct-b", "function", "square", "running", 2_500],
      ["sb-1", "sandbox", "", "running", 3_500],
    ]);
    expect(listed[2]).toMatchObject({ containerId: "ct-sb", app: "demo", appId: "ap-1", agent: "ag-1" });
  });

  it("is empty for a workspace with nothing running", () => {
    expect(listContainers([container("ct-a")], () => undefined, "ws-9")).toEqual([]);
  });
});

describe("container log lines", () => {
  it("are picked by container id; unreadable lines are nobody's", () => {
    expect(isLineOf(JSON.stringify({ containerId: "ct-1", line: "x" }), "ct-1")).toBe(true);
    expect(isLineOf(JSON.stringify({ containerId: "ct-2", line: "x" }), "ct-1")).toBe(false);
    expect(isLineOf("not json", "ct-1")).toBe(false);
  });
});

describe("EventQueue", () => {
  it("hands events over in order, waits for more, and ends once closed and drained", async () => {
    const q = new EventQueue<number>();
    q.push(1);
    const seen: number[] = [];
    const reading = (async () => {
      for await (const n of q) seen.push(n);
    })();
    await new Promise((r) => setTimeout(r, 10));
    q.push(2);
    q.push(3);
    q.close();
    q.push(4);
    await reading;
    expect(seen).toEqual([1, 2, 3]);
  });
});
