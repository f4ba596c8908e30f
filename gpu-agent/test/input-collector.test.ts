import { describe, expect, it } from "vitest";
import { InputCollector } from "../src/containers/input-collector.ts";

const T0 = 1_700_000_000_000;

describe("InputCollector", () => {
  it("a plain function (maxSize 1, waitMs 0) dispatches each input at once, oldest first", () => {
    const c = new InputCollector<string>({ maxSize: 1, waitMs: 0 });
    c.add("a", T0);
    c.add("b", T0 + 1);
    expect(c.take(T0 + 1)).toEqual(["a"]);
    expect(c.take(T0 + 1)).toEqual(["b"]);
    expect(c.take(T0 + 1)).toBeUndefined();
  });

  it("a partial batch waits until waitMs after its first input, then goes as it is", () => {
    const c = new InputCollector<string>({ maxSize: 4, waitMs: 200 });
    c.add("a", T0);
    c.add("b", T0 + 150);
    expect(c.take(T0 + 199)).toBeUndefined();
    expect(c.readyAt()).toBe(T0 + 200);
    expect(c.take(T0 + 200)).toEqual(["a", "b"]);
    expect(c.size).toBe(0);
  });

  it("a full batch is ready at once and takes at most maxSize inputs", () => {
    const c = new InputCollector<number>({ maxSize: 3, waitMs: 60_000 });
    for (let i = 0; i < 5; i++) c.add(i, T0);
    expect(c.take(T0)).toEqual([0, 1, 2]);
    // The rest wait out the window from their own arrival.
    expect(c.take(T0)).toBeUndefined();
    expect(c.readyAt()).toBe(T0 + 60_000);
    expect(c.take(T0 + 60_000)).toEqual([3, 4]);
  });

  it("an input that waited while dispatch slots were busy makes its batch ready when a slot frees", () => {
    const c = new InputCollector<string>({ maxSize: 4, waitMs: 100 });
    c.add("late", T0);
    expect(c.take(T0 + 5_000)).toEqual(["late"]);
  });

  it("removeWhere takes out a cancelled call's inputs and keeps the others in order", () => {
    const c = new InputCollector<{ call: string; n: number }>({ maxSize: 10, waitMs: 0 });
    [["x", 1], ["y", 2], ["x", 3], ["y", 4]].forEach(([call, n]) => c.add({ call: call as string, n: n as number }, T0));
    expect(c.removeWhere((i) => i.call === "x").map((i) => i.n)).toEqual([1, 3]);
    expect(c.items().map((i) => i.n)).toEqual([2, 4]);
    expect(c.drain().map((i) => i.n)).toEqual([2, 4]);
    expect(c.readyAt()).toBeUndefined();
  });
});
