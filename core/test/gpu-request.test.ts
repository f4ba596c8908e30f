import { describe, expect, it } from "vitest";
import {
  closestNames,
  GPU_CATALOG_CLOUDS,
  GPU_TYPES,
  InvalidGpuRequestError,
  KNOWN_CLOUDS,
  parseGpuRequest,
  validateClouds,
  validateGpuRequests,
} from "@ferry/core";

const messageOf = (check: ReturnType<typeof validateGpuRequests>): string => (check.ok ? "" : check.message);

describe("parseGpuRequest", () => {
  it("reads a bare type as one GPU and a TYPE:COUNT as that many", () => {
    expect(parseGpuRequest("H100")).toEqual({ type: "H100", count: 1 });
    expect(parseGpuRequest("A100-80GB:2")).toEqual({ type: "A100-80GB", count: 2 });
    expect(parseGpuRequest("any:4")).toEqual({ type: "any", count: 4 });
  });

  it("canonicalises known types and any whatever their case", () => {
    expect(parseGpuRequest("h100")).toEqual({ type: "H100", count: 1 });
    expect(parseGpuRequest("rtx4000-ada:2")).toEqual({ type: "RTX4000-Ada", count: 2 });
    expect(parseGpuRequest("ANY")).toEqual({ type: "any", count: 1 });
  });

  it("returns an unknown type as written, leaving the verdict to validateGpuRequests", () => {
    expect(parseGpuRequest("T4:2")).toEqual({ type: "T4", count: 2 });
  });

  it("rejects entries that are not TYPE or TYPE:COUNT", () => {
    for (const bad of ["", "H100:", "H100:0", "H100:-1", "H100:1.5", ":2", "H100 x2", "H100:2:3"]) {
      expect(() => parseGpuRequest(bad), bad).toThrow(InvalidGpuRequestError);
    }
  });
});

describe("validateGpuRequests", () => {
  it("accepts known types in any case and returns them canonically in preference order", () => {
    expect(validateGpuRequests(["h100:8", "a100-80gb", "any"])).toEqual({ ok: true, value: ["H100:8", "A100-80GB", "any"] });
  });

  it("spells one GPU without a count and drops repeats", () => {
    expect(validateGpuRequests(["H100:1", "h100", "L4:2"])).toEqual({ ok: true, value: ["H100", "L4:2"] });
  });

  it("accepts an empty list (a CPU-only function)", () => {
    expect(validateGpuRequests([])).toEqual({ ok: true, value: [] });
  });

  it("names an unknown type and the closest known ones", () => {
    const message = messageOf(validateGpuRequests(["H10"]));
    expect(message).toContain('unknown GPU type "H10"');
    expect(message).toContain("closest known types: H100,");
  });

  it("suggests the catalog spelling of a type typed with other punctuation", () => {
    expect(messageOf(validateGpuRequests(["RTX-4090"]))).toContain("closest known types: RTX4090");
    expect(messageOf(validateGpuRequests(["A100-80G"]))).toContain("closest known types: A100-80GB");
  });

  it("rejects a count above the largest node any catalog offers, naming that maximum", () => {
    expect(messageOf(validateGpuRequests(["H100:16"]))).toContain("at most 8 H100 fit on one node");
    // lambda sells A10 and GH200 only one to a node.
    expect(messageOf(validateGpuRequests(["A10:2"]))).toContain("at most 1 A10 fit on one node in any cloud catalog (offered by lambda)");
    expect(validateGpuRequests(["A6000:4"]).ok).toBe(true);
    expect(messageOf(validateGpuRequests(["A6000:8"]))).toContain("at most 4 A6000");
  });

  it("accepts any:N only when some type is offered N to a node", () => {
    expect(validateGpuRequests(["any:8"])).toEqual({ ok: true, value: ["any:8"] });
    expect(messageOf(validateGpuRequests(["any:9"]))).toBe('gpu "any:9": no cloud offers a node with more than 8 GPUs');
  });

  it("reports every bad entry in one message", () => {
    const message = messageOf(validateGpuRequests(["H100", "Z9", "L4:64", "bad spec"]));
    expect(message.split("; ").filter((m) => m.startsWith("gpu "))).toHaveLength(3);
    expect(message).toContain('"Z9"');
    expect(message).toContain("at most 8 L4");
    expect(message).toContain('gpu "bad spec" is malformed');
  });

  it("checks against any table passed in, not only the generated one", () => {
    const table = [{ name: "X1", memoryMiB: 1024, maxPerNode: 2, clouds: ["local"] }];
    expect(validateGpuRequests(["x1:2"], table)).toEqual({ ok: true, value: ["X1:2"] });
    expect(validateGpuRequests(["H100"], table).ok).toBe(false);
  });
});

describe("the generated GPU table", () => {
  it("lists each type once, sorted, with memory, a node size and at least one catalog cloud", () => {
    const names = GPU_TYPES.map((t) => t.name);
    expect(names).toEqual([...new Set(names)].sort());
    for (const t of GPU_TYPES) {
      expect(t.memoryMiB, t.name).toBeGreaterThan(0);
      expect(t.maxPerNode, t.name).toBeGreaterThanOrEqual(1);
      expect(t.clouds.length, t.name).toBeGreaterThan(0);
      for (const c of t.clouds) expect(GPU_CATALOG_CLOUDS).toContain(c);
    }
  });
});

describe("validateClouds", () => {
  it("knows every catalog cloud plus local", () => {
    expect(KNOWN_CLOUDS).toEqual(["cudo", "hyperbolic", "lambda", "nebius", "runpod", "local"]);
  });

  it("accepts known clouds in any case, lower-cased, repeats dropped", () => {
    expect(validateClouds(["Lambda", "RUNPOD", "lambda", "local"])).toEqual({ ok: true, value: ["lambda", "runpod", "local"] });
    expect(validateClouds([])).toEqual({ ok: true, value: [] });
  });

  it("names an unknown cloud, the nearest known one and the full list", () => {
    const check = validateClouds(["lamda", "aws"]);
    expect(check.ok).toBe(false);
    const message = check.ok ? "" : check.message;
    expect(message).toContain('unknown cloud "lamda" (did you mean lambda?)');
    expect(message).toContain('unknown cloud "aws";'); // nothing known is close to aws
    expect(message).toContain("known clouds: cudo, hyperbolic, lambda, nebius, runpod, local");
  });
});

describe("closestNames", () => {
  it("orders by edit distance, preferring names that extend what was typed", () => {
    expect(closestNames("h10", ["A10", "H100", "H200", "L4"], { limit: 2 })).toEqual(["H100", "A10"]);
  });

  it("offers nothing when no name is within the allowed distance", () => {
    expect(closestNames("aws", ["lambda", "runpod"], { maxDistance: 2 })).toEqual([]);
    expect(closestNames("lamda", ["lambda", "runpod"], { maxDistance: 2 })).toEqual(["lambda"]);
  });
});
