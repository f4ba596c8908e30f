import { describe, expect, it } from "vitest";
import type { FunctionRow } from "@ferry/core";
import { planRedeploy } from "../src/routes/redeploy-plan.ts";

const row = (id: string, name: string, options: Record<string, unknown>, bundleHash = "b1"): FunctionRow => ({
  id, appId: "ap-1", workspaceId: "ws-1", name, options, appName: "demo", appState: "running", bundleHash, removed: false,
});
const variant = { cls: "Model", params: { size: "small" }, hash: "ab".repeat(32) };

describe("planRedeploy", () => {
  it("keeps the containers of functions whose bundle and options are unchanged (key order aside)", () => {
    const plan = planRedeploy([row("fn-1", "square", { timeout: 5, memory: 256 })], [{ name: "square", options: { memory: 256, timeout: 5 } }], "b1");
    expect(plan).toEqual({ carried: [], restart: [] });
  });

  it("restarts a function whose options changed, every function when the bundle changed, and dropped ones", () => {
    const previous = [row("fn-1", "square", { timeout: 5 }), row("fn-2", "cube", {}), row("fn-3", "gone", {})];
    expect(planRedeploy(previous, [{ name: "square", options: { timeout: 6 } }, { name: "cube", options: {} }], "b1").restart).toEqual(["fn-1", "fn-3"]);
    expect(planRedeploy(previous, [{ name: "square", options: { timeout: 5 } }, { name: "cube", options: {} }], "b2").restart).toEqual(["fn-1", "fn-2", "fn-3"]);
  });

  it("carries a class's instances over with its new options, restarting them when the class changed", () => {
    const previous = [row("fn-m", "Model", { methods: ["predict"] }), row("fn-v", "Model.with.abababababababab", { methods: ["predict"], variant })];
    const same = planRedeploy(previous, [{ name: "Model", options: { methods: ["predict"] } }], "b1");
    expect(same).toEqual({ carried: [{ name: "Model.with.abababababababab", options: { methods: ["predict"], variant } }], restart: [] });
    const bigger = planRedeploy(previous, [{ name: "Model", options: { methods: ["predict"], memory: 1024 } }], "b1");
    expect(bigger.carried[0]!.options).toEqual({ methods: ["predict"], memory: 1024, variant });
    expect(bigger.restart).toEqual(["fn-m", "fn-v"]);
  });

  it("drops the instances of a class the redeploy no longer has (or that became a function)", () => {
    const previous = [row("fn-m", "Model", { methods: ["predict"] }), row("fn-v", "Model.with.abababababababab", { methods: ["predict"], variant })];
    expect(planRedeploy(previous, [{ name: "Other", options: {} }], "b1")).toEqual({ carried: [], restart: ["fn-m", "fn-v"] });
    expect(planRedeploy(previous, [{ name: "Model", options: {} }], "b1")).toEqual({ carried: [], restart: ["fn-m", "fn-v"] });
  });

  it("with code fingerprints on both sides, a new bundle restarts only the functions whose fingerprint changed", () => {
    const fp = (c: string) => c.repeat(64);
    const previous = [row("fn-1", "square", { codeFingerprint: fp("a") }), row("fn-2", "cube", { codeFingerprint: fp("b") })];
    const plan = planRedeploy(previous, [{ name: "square", options: { codeFingerprint: fp("a") } }, { name: "cube", options: { codeFingerprint: fp("c") } }], "b2");
    expect(plan.restart).toEqual(["fn-2"]);
    // Options still count with fingerprints.
    expect(planRedeploy(previous, [{ name: "square", options: { codeFingerprint: fp("a"), timeout: 9 } }, { name: "cube", options: { codeFingerprint: fp("b") } }], "b2").restart).toEqual(["fn-1"]);
  });

  it("falls back to the bundle when either side has no fingerprint (a deploy by an older CLI)", () => {
    const previous = [row("fn-1", "square", {}), row("fn-2", "cube", { codeFingerprint: "a".repeat(64) })];
    const next = [{ name: "square", options: { codeFingerprint: "a".repeat(64) } }, { name: "cube", options: {} }];
    expect(planRedeploy(previous, next, "b2").restart).toEqual(["fn-1", "fn-2"]);
  });
});
