import { describe, expect, it } from "vitest";
import { REPUTATION_RECOVERY_MS, Reputation } from "../src/broker/reputation.ts";

describe("Reputation", () => {
  it("halves an agent's standing per caught lie and restores it over the recovery window", () => {
    let now = 0;
    const rep = new Reputation(() => now);
    expect(rep.of("ag-1")).toBe(1);
    rep.penalize("ag-1");
    expect(rep.of("ag-1")).toBe(0.5);
    rep.penalize("ag-1");
    expect(rep.of("ag-1")).toBe(0.25);
    expect(rep.of("ag-2")).toBe(1);
    now = REPUTATION_RECOVERY_MS / 2;
    expect(rep.of("ag-1")).toBeCloseTo(0.625, 9);
    now = REPUTATION_RECOVERY_MS;
    expect(rep.of("ag-1")).toBe(1);
  });

  it("never drops to zero, so a lone agent can still win", () => {
    const rep = new Reputation(() => 0);
    for (let i = 0; i < 20; i++) rep.penalize("ag-1");
    expect(rep.of("ag-1")).toBeGreaterThan(0);
  });
});
