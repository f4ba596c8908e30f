import { describe, expect, it } from "vitest";
import type { RegionRow } from "@ferry/core";
import { REGION_STALE_MS, routeOrder, type RegionHealthView } from "../src/regions/choose-region.ts";
import { REGION_DOWN_MS, RegionHealth } from "../src/regions/region-health.ts";

const now = 1_000_000;
const row = (name: string, age = 0): RegionRow => ({ name, url: `http://${name}`, updatedAt: now - age });
const names = (rows: ReadonlyArray<RegionRow>) => rows.map((r) => r.name);

describe("routeOrder", () => {
  const regions = [row("us-east"), row("eu-west"), row("ap-south")];
  const latency: Record<string, RegionHealthView> = { "us-east": { latencyMs: 40 }, "eu-west": { latencyMs: 5 }, "ap-south": {} };

  it("puts the nearest measured region first and unmeasured ones last", () => {
    expect(names(routeOrder(regions, [], (n) => latency[n] ?? {}, now))).toEqual(["eu-west", "us-east", "ap-south"]);
  });

  it("never leaves the function's regions", () => {
    expect(names(routeOrder(regions, ["us-east", "ap-south"], (n) => latency[n] ?? {}, now))).toEqual(["us-east", "ap-south"]);
  });

  it("passes over a region marked down, unless every allowed region is", () => {
    const down = (n: string): RegionHealthView => ({ ...latency[n], ...(n === "eu-west" ? { downUntil: now + 1 } : {}) });
    expect(names(routeOrder(regions, [], down, now))).toEqual(["us-east", "ap-south"]);
    expect(names(routeOrder(regions, ["eu-west"], down, now))).toEqual(["eu-west"]);
  });

  it("drops a region whose record is stale, unless it still answers this edge's probes", () => {
    const stale = [row("us-east", REGION_STALE_MS + 1), row("eu-west")];
    expect(names(routeOrder(stale, [], () => ({}), now))).toEqual(["eu-west"]);
    expect(names(routeOrder(stale, [], (n) => (n === "us-east" ? { lastOkAt: now - 100, latencyMs: 1 } : { latencyMs: 9 }), now))).toEqual(["us-east", "eu-west"]);
  });
});

describe("RegionHealth", () => {
  it("smooths latency, marks a failure down for REGION_DOWN_MS, and a success clears it", () => {
    const h = new RegionHealth();
    h.succeeded("a", 10, now);
    h.succeeded("a", 20, now);
    expect(h.view("a").latencyMs).toBeCloseTo(13, 5);
    h.failed("a", "refused", now);
    expect(h.view("a").downUntil).toBe(now + REGION_DOWN_MS);
    expect(h.failure("a", now)).toBe("refused");
    h.succeeded("a", 10, now + 1);
    expect(h.failure("a", now + 1)).toBeUndefined();
  });
});
