import { describe, expect, it } from "vitest";
import { exitWithin, findClass, type ClassInstance } from "../src/runner/class-target.ts";
import { APP_BRAND, CLS_BRAND } from "../src/runner/runner-protocol.ts";

const instance = (exit: () => Promise<void>): ClassInstance => ({ call: async () => undefined, exit });

describe("exitWithin: a class's exit at container shutdown", () => {
  it("lets exit finish", async () => {
    let ran = false;
    expect(await exitWithin(instance(async () => void (ran = true)), 1_000)).toEqual({});
    expect(ran).toBe(true);
  });

  it("stops waiting at the limit and says so", async () => {
    const started = Date.now();
    const r = await exitWithin(instance(() => new Promise(() => {})), 50);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(r.problem).toBe("exit() did not finish within 50 ms (classExitTimeoutMs); stopping the container anyway");
  });

  it("reports a throwing exit without failing", async () => {
    expect(await exitWithin(instance(async () => { throw new TypeError("socket gone"); }), 1_000)).toEqual({ problem: "exit() threw TypeError: socket gone" });
  });
});

describe("findClass: the class a container serves, found by brand", () => {
  const handle = (name?: string) => ({ [CLS_BRAND]: true, name, instantiate: async () => instance(async () => {}) });
  it("by export name, by its own name, or among its app's classes", () => {
    const Model = handle();
    const Named = handle("Renamed");
    const Inner = handle("Inner");
    const mod = { Model, Other: Named, app: { [APP_BRAND]: true, classes: () => [Inner] }, notAClass: { name: "Model" } };
    expect(findClass(mod, "Model")).toBe(Model);
    expect(findClass(mod, "Renamed")).toBe(Named);
    expect(findClass(mod, "Inner")).toBe(Inner);
    expect(findClass(mod, "Other")).toBeUndefined();
  });
});
