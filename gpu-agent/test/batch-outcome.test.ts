import { describe, it, expect } from "vitest";
import { FunctionDefaults, Limits, resolveFunctionOptions, type QueuedInput } from "@ferry/core";
import { decideAttempt, type AttemptEnd } from "../src/containers/batch-outcome.ts";

const NOW = 1_700_000_000_000;
const input = (attempt: number, idx = 7): QueuedInput => ({ idx, args: [idx, "arg"], attempt });
const boom = { name: "Error", message: "boom" };

describe("decideAttempt", () => {
  it("an ok attempt becomes an ok output with its value, whatever the attempt number", () => {
    const options = resolveFunctionOptions({ retries: 3 });
    for (const attempt of [0, 2, 3]) {
      expect(decideAttempt(input(attempt), { kind: "ok", value: { y: 49 } }, options, NOW)).toEqual({ output: { idx: 7, ok: true, value: { y: 49 } } });
    }
  });

  it("an ok undefined value is still an output", () => {
    expect(decideAttempt(input(0), { kind: "ok", value: undefined }, resolveFunctionOptions({}), NOW)).toEqual({ output: { idx: 7, ok: true, value: undefined } });
  });

  it("with no retries configured, the first error is the final output", () => {
    const r = decideAttempt(input(0), { kind: "error", error: boom }, resolveFunctionOptions({}), NOW);
    expect(r).toEqual({ output: { idx: 7, ok: false, kind: "error", error: boom } });
  });

  it("an error with retries left is retried with attempt + 1, the same idx and args", () => {
    const r = decideAttempt(input(0), { kind: "error", error: boom }, resolveFunctionOptions({ retries: 2 }), NOW);
    expect("retry" in r).toBe(true);
    if (!("retry" in r)) return;
    expect(r.retry.idx).toBe(7);
    expect(r.retry.args).toEqual([7, "arg"]);
    expect(r.retry.attempt).toBe(1);
  });

  it("a bare retry count backs off from 1 s doubling (the defaults)", () => {
    const options = resolveFunctionOptions({ retries: 5 });
    const delays = [0, 1, 2, 3, 4].map((attempt) => {
      const r = decideAttempt(input(attempt), { kind: "error", error: boom }, options, NOW);
      if (!("retry" in r)) throw new Error("expected a retry");
      return r.retry.notBefore! - NOW;
    });
    expect(FunctionDefaults.initialDelayMs).toBe(1_000);
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
  });

  it("notBefore = now + initialDelayMs * coefficient^(attempt-1), capped by maxDelayMs", () => {
    const options = resolveFunctionOptions({ retries: { maxRetries: 6, initialDelayMs: 100, backoffCoefficient: 3, maxDelayMs: 2_000 } });
    const expected = [100, 300, 900, 2_000, 2_000, 2_000];
    for (const [i, delay] of expected.entries()) {
      const r = decideAttempt(input(i), { kind: "error", error: boom }, options, NOW);
      expect(r).toEqual({ retry: { idx: 7, args: [7, "arg"], attempt: i + 1, notBefore: NOW + delay } });
    }
  });

  it("a coefficient of 1 keeps the delay constant, and a zero delay retries at once", () => {
    const flat = resolveFunctionOptions({ retries: { maxRetries: 3, initialDelayMs: 250, backoffCoefficient: 1 } });
    for (const attempt of [0, 1, 2]) {
      const r = decideAttempt(input(attempt), { kind: "error", error: boom }, flat, NOW);
      expect("retry" in r && r.retry.notBefore).toBe(NOW + 250);
    }
    const immediate = resolveFunctionOptions({ retries: { maxRetries: 1, initialDelayMs: 0 } });
    const r = decideAttempt(input(0), { kind: "error", error: boom }, immediate, NOW);
    expect("retry" in r && r.retry.notBefore).toBe(NOW);
  });

  it("timeouts and crashes are retried like errors", () => {
    const options = resolveFunctionOptions({ retries: 1 });
    for (const kind of ["timeout", "crash"] as const) {
      const r = decideAttempt(input(0), { kind, error: boom }, options, NOW);
      expect(r).toEqual({ retry: { idx: 7, args: [7, "arg"], attempt: 1, notBefore: NOW + 1_000 } });
    }
  });

  it("maxRetries n allows n + 1 attempts in all", () => {
    const options = resolveFunctionOptions({ retries: 2 });
    const end: AttemptEnd = { kind: "error", error: boom };
    expect("retry" in decideAttempt(input(0), end, options, NOW)).toBe(true);
    expect("retry" in decideAttempt(input(1), end, options, NOW)).toBe(true);
    expect(decideAttempt(input(2), end, options, NOW)).toEqual({ output: { idx: 7, ok: false, kind: "error", error: boom } });
  });

  it("exhausted retries give a failed output that keeps the kind of the last attempt", () => {
    const options = resolveFunctionOptions({ retries: 1 });
    for (const kind of ["error", "timeout", "crash"] as const) {
      const error = { name: kind === "timeout" ? "FunctionTimeoutError" : "Error", message: `last ${kind}` };
      expect(decideAttempt(input(1), { kind, error }, options, NOW)).toEqual({ output: { idx: 7, ok: false, kind, error } });
    }
  });

  it("works up to Limits.maxRetries", () => {
    const options = resolveFunctionOptions({ retries: Limits.maxRetries });
    const end: AttemptEnd = { kind: "crash", error: boom };
    const r = decideAttempt(input(Limits.maxRetries - 1), end, options, NOW);
    expect("retry" in r && r.retry.attempt).toBe(Limits.maxRetries);
    // The default 60 s cap holds for late retries.
    expect("retry" in r && r.retry.notBefore).toBe(NOW + FunctionDefaults.maxDelayMs);
    expect(decideAttempt(input(Limits.maxRetries), end, options, NOW)).toEqual({ output: { idx: 7, ok: false, kind: "crash", error: boom } });
  });
});
