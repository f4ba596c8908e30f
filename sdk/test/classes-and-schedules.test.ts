import { describe, expect, it } from "vitest";
import { App, Cron, Period, UnknownMethodError } from "../src/index.ts";
import { classMethods } from "../src/classes/class-members.ts";

/** The SDK's side of classes and schedules, in this process (no platform). */

describe("Cron and Period", () => {
  it("build the schedule option as it travels in the manifest", () => {
    expect(Cron("0 * * * *")).toEqual({ kind: "cron", cron: "0 * * * *" });
    expect(Cron("0 9 * * 1-5", { timezone: "Europe/Paris" })).toEqual({ kind: "cron", cron: "0 9 * * 1-5", timezone: "Europe/Paris" });
    expect(Period({ minutes: 5 })).toEqual({ kind: "period", seconds: 300 });
    expect(Period({ weeks: 1, days: 1, hours: 1, minutes: 1, seconds: 1 })).toEqual({ kind: "period", seconds: 8 * 86_400 + 3_661 });
    // Left to the platform to refuse at deploy, naming the field.
    expect(Period({})).toEqual({ kind: "period", seconds: 0 });
  });
});

describe("app.cls", () => {
  class Base {
    shared() {
      return "base";
    }
  }

  const app = new App("cls-unit");
  const Model = app.cls({ memory: 256 }, class extends Base {
    size = "base";
    log: string[] = [];
    async enter() {
      this.log.push(`enter ${this.size}`);
    }
    async exit() {
      this.log.push("exit");
    }
    predict(x: number) {
      return `${this.size}:${x}`;
    }
    history() {
      return [...this.log];
    }
  });

  it("finds the class's methods on its prototype chain, the lifecycle hooks and constructor aside", () => {
    expect(Model.methods).toEqual(["predict", "history", "shared"]);
    expect(classMethods(class { a() {} get b() { return 1; } static c() {} })).toEqual(["a"]);
    expect(app.classes()).toEqual([Model]);
  });

  it(".local runs on one local instance, entered once before the first method", async () => {
    expect(await Model.predict.local(1)).toBe("base:1");
    expect(await Model.predict.local(2)).toBe("base:2");
    expect(await Model.history.local()).toEqual(["enter base"]);
    expect(await Model.with({ size: "small" }).predict.local(3)).toBe("small:3");
  });

  it("a container's instance: parameters set before enter, exit at the end, unknown methods refused", async () => {
    const instance = await Model.instantiate({ size: "large" });
    expect(await instance.call("predict", [4])).toBe("large:4");
    await expect(instance.call("enter", [])).rejects.toThrow(UnknownMethodError);
    await expect(instance.call("nope", [])).rejects.toThrow('has no method "nope"; its methods are predict, history, shared');
    await instance.exit();
    expect(await instance.call("history", [])).toEqual(["enter large", "exit"]);
  });

  it("with() refuses parameters that are not structured values, naming the path", () => {
    expect(() => Model.with({ size: Symbol("s") as unknown as string })).toThrow("params.size");
    expect(() => Model.with({ log: [() => "x"] as unknown as string[] })).toThrow("params.log[0]");
  });

  it("refuses classes without methods, and methods named like the handle's members", () => {
    expect(() => app.cls({}, class { async enter() {} })).toThrow("at least one method");
    expect(() => app.cls({}, class { with() {} })).toThrow("method with has the name of a class handle member");
  });
});
