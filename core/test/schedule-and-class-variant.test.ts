import { describe, expect, it } from "vitest";
import { canonicalClassParams, canonicalJson, classVariantName, isClassOptions, variantOf } from "../src/domain/class-variant.ts";
import { decodeAt } from "../src/domain/decode.ts";
import { FunctionOptions, resolveFunctionOptions } from "../src/domain/function-options.ts";
import { describeSchedule, latestPeriodTick, nextPeriodTick } from "../src/domain/schedule.ts";
import { encodeValue } from "../src/codec/index.ts";

describe("period ticks", () => {
  it("tick every period from the anchor, the first one period after it", () => {
    expect(latestPeriodTick(5, 1_000, 0, 5_999)).toBeUndefined();
    expect(latestPeriodTick(5, 1_000, 0, 6_000)).toBe(6_000);
    expect(latestPeriodTick(5, 1_000, 6_000, 10_999)).toBeUndefined();
    expect(latestPeriodTick(5, 1_000, 6_000, 23_000)).toBe(21_000);
    expect(nextPeriodTick(5, 1_000, 0)).toBe(6_000);
    expect(nextPeriodTick(5, 1_000, 6_000)).toBe(11_000);
    expect(nextPeriodTick(0.5, 0, 1_200)).toBe(1_500);
  });

  it("describe themselves in a few words", () => {
    expect(describeSchedule({ kind: "period", seconds: 90 })).toBe("every 1m30s");
    expect(describeSchedule({ kind: "period", seconds: 86_400 })).toBe("every 1d");
    expect(describeSchedule({ kind: "period", seconds: 1.5 })).toBe("every 1.5s");
    expect(describeSchedule({ kind: "cron", cron: "0 * * * *" })).toBe("cron 0 * * * *");
    expect(describeSchedule({ kind: "cron", cron: "0 9 * * *", timezone: "Europe/Paris" })).toBe("cron 0 9 * * * Europe/Paris");
  });
});

describe("the schedule option in a manifest", () => {
  const decode = (schedule: unknown) => decodeAt(FunctionOptions, { schedule }, "options");
  it("accepts a Cron and a Period of at least a second", () => {
    expect(decode({ kind: "cron", cron: "0 * * * *", timezone: "UTC" })._tag).toBe("Success");
    expect(decode({ kind: "period", seconds: 1 })._tag).toBe("Success");
  });

  it("refuses a zero, short or endless Period and an empty cron, naming the field", () => {
    for (const seconds of [0, 0.5, -1, 1e12]) {
      const r = decode({ kind: "period", seconds });
      expect(r._tag).toBe("Failure");
      if (r._tag === "Failure") expect(r.failure).toMatchObject({ field: "options.schedule.seconds", message: expect.stringContaining("minSchedulePeriodS") });
    }
    const long = decode({ kind: "cron", cron: `0 * * * *${" ".repeat(300)}` });
    expect(long._tag === "Failure" && long.failure.field).toBe("options.schedule.cron");
    const empty = decode({ kind: "cron", cron: "" });
    expect(empty._tag === "Failure" && empty.failure.field).toBe("options.schedule.cron");
    const other = decode({ kind: "sometimes" });
    expect(other._tag === "Failure" && other.failure.field).toBe("options.schedule");
  });
});

describe("class instances (variants)", () => {
  it("parameters differing only in key order have one canonical form", () => {
    const a = canonicalClassParams(encodeValue({ size: "small", layers: [2, { b: 1, a: 2 }] }), "body.params");
    const b = canonicalClassParams(encodeValue({ layers: [2, { a: 2, b: 1 }], size: "small" }), "body.params");
    expect(a.ok && b.ok && a.json === b.json).toBe(true);
    expect(a.ok && a.json).toBe('{"layers":[2,{"a":2,"b":1}],"size":"small"}');
    // Maps and sets keep their order: it is part of their value.
    expect(canonicalJson({ $f: "map", v: ["b", 1, "a", 2] })).toBe('{"$f":"map","v":["b",1,"a",2]}');
  });

  it("structured values are kept exactly", () => {
    const r = canonicalClassParams(encodeValue({ when: new Date(0), big: 2n ** 70n, set: new Set([1]) }), "body.params");
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.json).toBe('{"big":{"$f":"big","v":"1180591620717411303424"},"set":{"$f":"set","v":[1]},"when":{"$f":"date","v":0}}');
  });

  it("refuses parameters that are not a plain object, or a malformed encoding, naming the path", () => {
    expect(canonicalClassParams([1, 2], "body.params")).toMatchObject({ ok: false, field: "body.params", message: expect.stringContaining("plain object") });
    expect(canonicalClassParams("small", "body.params")).toMatchObject({ ok: false, field: "body.params" });
    expect(canonicalClassParams({ size: { $f: "nope" } }, "body.params")).toMatchObject({ ok: false, field: "body.params.size", message: expect.stringContaining("nope") });
  });

  it("a variant row names its class and parameters; its containers construct that class with them", () => {
    const options = { methods: ["predict"], memory: 256, variant: { cls: "Model", params: { size: "small" }, hash: "ab".repeat(32) } };
    expect(variantOf(options)?.cls).toBe("Model");
    expect(isClassOptions(options)).toBe(true);
    expect(variantOf({ methods: ["predict"] })).toBeUndefined();
    expect(classVariantName("Model", "0123456789abcdef0123")).toBe("Model.with.0123456789abcdef");
    expect(resolveFunctionOptions(options as FunctionOptions).cls).toEqual({ name: "Model", params: { size: "small" } });
    expect(resolveFunctionOptions({ methods: ["predict"] }).cls).toEqual({});
    expect(resolveFunctionOptions({}).cls).toBeUndefined();
  });
});
