import { describe, expect, it } from "vitest";
import { TtlCache } from "@ferry/core";

describe("TtlCache", () => {
  it("returns a value until its time to live passes, then forgets it", async () => {
    const cache = new TtlCache<string, number>(50);
    cache.set("a", 1);
    expect(cache.get("a")).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(cache.get("a")).toBeUndefined();
  });

  it("never holds more than its bound", () => {
    const cache = new TtlCache<number, number>(60_000, 3);
    for (let i = 0; i < 4; i++) cache.set(i, i);
    expect([0, 1, 2].map((i) => cache.get(i))).toEqual([undefined, undefined, undefined]);
    expect(cache.get(3)).toBe(3);
  });

  it("keeps null as a value, apart from a miss", () => {
    const cache = new TtlCache<string, null>(60_000);
    cache.set("gone", null);
    expect(cache.get("gone")).toBeNull();
    expect(cache.get("never")).toBeUndefined();
  });
});
