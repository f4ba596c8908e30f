import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { Effect } from "effect";
import { migrate } from "@ferry/core";
import { openLibsql } from "@ferry/core/node";
import { claimTick, listTickRuns, pruneTickRuns, releaseTick } from "../src/schedules/schedule-claims.ts";

/** Tick claims in a real libSQL file, shared by two clients as two region servers share it. */

let dir: string;
let a: Client;
let b: Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-claims-"));
  const url = `file:${join(dir, "state.db")}`;
  a = await openLibsql(url);
  await Effect.runPromise(migrate(a));
  b = await openLibsql(url);
});
afterAll(async () => {
  a?.close();
  b?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("claimTick", () => {
  it("gives each (function, tick) to exactly one of many concurrent claimers", async () => {
    const claimers = Array.from({ length: 8 }, (_, i) => claimTick(i % 2 ? a : b, { functionId: "fn-1", tickMs: 1_000, callId: `fc-${i}`, region: `r${i}` }));
    const won = await Promise.all(claimers);
    expect(won.filter(Boolean)).toHaveLength(1);
    const runs = await listTickRuns(a, "fn-1");
    expect(runs).toHaveLength(1);
    expect(runs[0]!.callId).toBe(`fc-${won.indexOf(true)}`);
  });

  it("keeps ticks of one function, and one tick of two functions, apart", async () => {
    expect(await claimTick(a, { functionId: "fn-2", tickMs: 1_000, callId: "fc-x", region: "r" })).toBe(true);
    expect(await claimTick(b, { functionId: "fn-2", tickMs: 2_000, callId: "fc-y", region: "r" })).toBe(true);
    expect(await claimTick(b, { functionId: "fn-3", tickMs: 1_000, callId: "fc-z", region: "r" })).toBe(true);
    expect((await listTickRuns(a, "fn-2")).map((r) => r.tickMs)).toEqual([1_000, 2_000]);
  });

  it("a released claim (its run could not be enqueued) can be claimed again", async () => {
    const claim = { functionId: "fn-4", tickMs: 5_000, callId: "fc-1", region: "r" };
    expect(await claimTick(a, claim)).toBe(true);
    expect(await claimTick(b, { ...claim, callId: "fc-2" })).toBe(false);
    await releaseTick(a, claim);
    expect(await claimTick(b, { ...claim, callId: "fc-2" })).toBe(true);
  });

  it("old claims are pruned", async () => {
    expect(await claimTick(a, { functionId: "fn-5", tickMs: 1, callId: "fc-old", region: "r" }, 10)).toBe(true);
    expect(await claimTick(a, { functionId: "fn-5", tickMs: 2, callId: "fc-new", region: "r" }, 1_000)).toBe(true);
    await pruneTickRuns(a, 500);
    expect((await listTickRuns(a, "fn-5")).map((r) => r.callId)).toEqual(["fc-new"]);
  });
});
