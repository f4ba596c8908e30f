import { describe, expect, it } from "vitest";
import { useBasicApp } from "../fixtures/platform.ts";

// No in-process agent: agents here are their own processes, so one can be SIGKILLed.
const ctx = useBasicApp({ agents: 0 });

describe("agent failure", () => {
  it("map returns every output exactly once after its agent is SIGKILLed mid-flight", async () => {
    const doomed = await ctx.t.spawnAgent();
    const n = 2_000;
    const seen = new Map<number, number>();
    let killed = false;
    let replacement: Promise<unknown> | undefined;
    const results: number[] = [];
    for await (const y of ctx.fns.slowSquare.map(Array.from({ length: n }, (_, i) => i), { orderOutputs: false })) {
      results.push(y);
      seen.set(y, (seen.get(y) ?? 0) + 1);
      if (!killed && results.length >= 100) {
        killed = true;
        doomed.kill("SIGKILL");
        replacement = ctx.t.spawnAgent();
      }
    }
    await replacement;
    expect(killed).toBe(true);
    expect(results).toHaveLength(n);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect(new Set(results)).toEqual(new Set(Array.from({ length: n }, (_, i) => i * i)));
  }, 120_000);
});
