import { describe, expect, it } from "vitest";
import { cronProblem, dueTick, nextTicks } from "../src/schedules/schedule-ticks.ts";

const at = (iso: string) => Date.parse(iso);

describe("dueTick: what a scheduler that last looked at `since` runs now", () => {
  it("a period ticks every period from its anchor, the first one period after it", () => {
    const period = { kind: "period", seconds: 1 } as const;
    expect(dueTick(period, 10_000, 0, 10_900)).toBeUndefined();
    expect(dueTick(period, 10_000, 0, 11_000)).toBe(11_000);
    expect(dueTick(period, 10_000, 11_000, 11_999)).toBeUndefined();
    expect(dueTick(period, 10_000, 11_000, 12_150)).toBe(12_000);
  });

  it("several missed ticks run once: only the latest is due", () => {
    expect(dueTick({ kind: "period", seconds: 1 }, 0, 1_500, 5_200)).toBe(5_000);
    expect(dueTick({ kind: "cron", cron: "* * * * * *" }, 0, at("2026-01-01T00:00:00.5Z"), at("2026-01-01T00:00:04.2Z"))).toBe(at("2026-01-01T00:00:04Z"));
  });

  it("a cron tick is due from its time on, once", () => {
    const hourly = { kind: "cron", cron: "0 * * * *" } as const;
    expect(dueTick(hourly, 0, at("2026-01-01T00:59:59.9Z"), at("2026-01-01T01:00:00.1Z"))).toBe(at("2026-01-01T01:00:00Z"));
    expect(dueTick(hourly, 0, at("2026-01-01T01:00:00.1Z"), at("2026-01-01T01:59:00Z"))).toBeUndefined();
  });

  it("no tick at or before the deploy that anchors the schedule runs", () => {
    const hourly = { kind: "cron", cron: "0 * * * *" } as const;
    expect(dueTick(hourly, at("2026-01-01T01:00:00Z"), at("2026-01-01T00:59:00Z"), at("2026-01-01T01:00:30Z"))).toBeUndefined();
    expect(dueTick({ kind: "period", seconds: 5 }, 20_000, 0, 20_000)).toBeUndefined();
  });

  it("cron times are in UTC unless the schedule names a timezone", () => {
    const nine = { kind: "cron", cron: "0 9 * * *" } as const;
    expect(nextTicks(nine, 0, at("2026-01-01T00:00:00Z"), 1)).toEqual([at("2026-01-01T09:00:00Z")]);
    expect(nextTicks({ ...nine, timezone: "Europe/Paris" }, 0, at("2026-01-01T00:00:00Z"), 1)).toEqual([at("2026-01-01T08:00:00Z")]);
    expect(nextTicks({ ...nine, timezone: "Europe/Paris" }, 0, at("2026-07-01T00:00:00Z"), 1)).toEqual([at("2026-07-01T07:00:00Z")]);
  });
});

describe("nextTicks", () => {
  it("lists the next runs of a period and of a cron expression", () => {
    expect(nextTicks({ kind: "period", seconds: 60 }, 0, 90_000, 3)).toEqual([120_000, 180_000, 240_000]);
    expect(nextTicks({ kind: "cron", cron: "*/15 * * * *" }, 0, at("2026-01-01T00:07:00Z"), 2)).toEqual([at("2026-01-01T00:15:00Z"), at("2026-01-01T00:30:00Z")]);
  });

  it("counts from the anchor when asked about a time before it", () => {
    expect(nextTicks({ kind: "period", seconds: 10 }, 100_000, 0, 1)).toEqual([110_000]);
  });
});

describe("cronProblem", () => {
  const now = at("2026-01-01T00:00:00Z");
  it("accepts 5 fields, 6 with seconds first, and nicknames", () => {
    for (const cron of ["0 * * * *", "*/5 9-17 * * 1-5", "30 0 * * * *", "@daily"]) expect(cronProblem({ kind: "cron", cron }, now)).toBeUndefined();
  });

  it("names what is wrong: a field out of range, a malformed expression, a bad timezone, no future time", () => {
    expect(cronProblem({ kind: "cron", cron: "61 * * * *" }, now)).toBe('invalid cron expression "61 * * * *": Invalid value for minute: 61');
    expect(cronProblem({ kind: "cron", cron: "every hour" }, now)).toContain("exactly five, six, or seven space separated parts are required");
    expect(cronProblem({ kind: "cron", cron: "0 * * * * * 2030" }, now)).toContain("invalid cron expression");
    expect(cronProblem({ kind: "cron", cron: "0 9 * * *", timezone: "Mars/Olympus" }, now)).toContain('in timezone "Mars/Olympus"');
    expect(cronProblem({ kind: "cron", cron: "0 0 31 2 *" }, now)).toBe('the cron expression "0 0 31 2 *" names no future time');
  });
});
