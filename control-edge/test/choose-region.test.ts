import { describe, it, expect } from "vitest";
import type { RegionRow } from "@ferry/core";
import { routeOrder } from "../src/regions/choose-region.ts";

/** The region a call goes to with no health measured yet: the first of the route order. */
const chooseRegion = (regions: ReadonlyArray<RegionRow>, allowed: ReadonlyArray<string>) => routeOrder(regions, allowed, () => ({}))[0];

const region = (name: string): RegionRow => ({ name, url: `http://127.0.0.1/${name}`, updatedAt: Date.now() });
const regions = [region("eu-west"), region("us-east"), region("us-west")];

describe("chooseRegion", () => {
  it("with no allowed list, any registered region may take the call", () => {
    expect(chooseRegion(regions, [])?.name).toBe("eu-west");
  });

  it("returns undefined when no region is registered", () => {
    expect(chooseRegion([], [])).toBeUndefined();
    expect(chooseRegion([], ["us-east"])).toBeUndefined();
  });

  it("only picks a region the function allows", () => {
    expect(chooseRegion(regions, ["us-east"])?.name).toBe("us-east");
    expect(chooseRegion(regions, ["us-west"])?.name).toBe("us-west");
    const r = chooseRegion(regions, ["us-west", "us-east"]);
    expect(["us-west", "us-east"]).toContain(r?.name);
  });

  it("returns undefined when none of the allowed regions is registered", () => {
    expect(chooseRegion(regions, ["ap-south"])).toBeUndefined();
    expect(chooseRegion(regions, ["ap-south", "sa-east"])).toBeUndefined();
  });

  it("matches region names exactly (no prefix or case folding)", () => {
    expect(chooseRegion(regions, ["us"])).toBeUndefined();
    expect(chooseRegion(regions, ["US-EAST"])).toBeUndefined();
  });

  it("returns the registered row itself, url included", () => {
    const r = chooseRegion(regions, ["us-east"]);
    expect(r).toBe(regions[1]);
  });
});
