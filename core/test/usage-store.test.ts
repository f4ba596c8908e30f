import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "@libsql/client";
import { Effect } from "effect";
import { openLibsql } from "../src/storage/libsql-file.ts";
import { Storage } from "../src/storage/storage.ts";
import { MAX_USAGE_WINDOW_MS, parseSince, UsageStore, type UsageRecord } from "../src/metering/usage-store.ts";

/** Metering in a real libSQL file. */

let dir: string;
let client: Client;
let usage: UsageStore["Service"];

const record = (over: Partial<UsageRecord>): UsageRecord => ({
  workspaceId: "ws-a", appId: "ap-1", appName: "shop", functionId: "fn-1", functionName: "embed", containerId: "ct-1",
  agentId: "ag-1", region: "local", cloud: "lambda", gpuType: "H100", gpuCount: 2, cpu: 1, memoryMiB: 1024,
  startMs: 1_000_000, endMs: 1_010_000, pricePerSecond: 0.001, ...over,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-usage-"));
  client = await openLibsql(`file:${join(dir, "state.db")}`);
  usage = await Effect.runPromise(Effect.gen(function*() {
    return yield* UsageStore;
  }).pipe(Effect.provide(UsageStore.layer), Effect.provide(Storage.layerClient(client))));
  await Effect.runPromise(usage.record([
    record({}),
    record({ containerId: "ct-2", startMs: 1_010_000, endMs: 1_015_000 }),
    record({ functionName: "chat", functionId: "fn-2", containerId: "ct-3", cloud: "runpod", gpuType: "A100-80GB", gpuCount: 1, pricePerSecond: 0.0005 }),
    record({ functionName: "web", functionId: "fn-3", containerId: "ct-4", cloud: "local", gpuType: "", gpuCount: 0, pricePerSecond: 0.00001 }),
    record({ workspaceId: "ws-b", containerId: "ct-9", pricePerSecond: 1 }),
  ]));
});

afterAll(async () => {
  client.close();
  await rm(dir, { recursive: true, force: true });
});

describe("UsageStore", () => {
  it("sums container-seconds, GPU-seconds and cost per group, most expensive first", async () => {
    const lines = await Effect.runPromise(usage.summary("ws-a", 0, ["function"]));
    expect(lines.map((l) => l.keys.function)).toEqual(["shop.embed", "shop.chat", "shop.web"]);
    const embed = lines[0]!;
    expect(embed.containerSeconds).toBe(15);
    expect(embed.gpuSeconds).toBe(30);
    expect(embed.costUsd).toBeCloseTo(0.015, 9);
  });

  it("groups by GPU type (cpu for none) and cloud together", async () => {
    const lines = await Effect.runPromise(usage.summary("ws-a", 0, ["gpu", "cloud"]));
    expect(lines.map((l) => `${l.keys.gpu}@${l.keys.cloud}`).sort()).toEqual(["A100-80GB@runpod", "H100@lambda", "cpu@local"]);
  });

  it("never shows another workspace's usage, and honours the window", async () => {
    const all = await Effect.runPromise(usage.summary("ws-a", 0, []));
    expect(all).toHaveLength(1);
    expect(all[0]!.costUsd).toBeCloseTo(0.015 + 0.005 + 0.0001, 9);
    expect(await Effect.runPromise(usage.summary("ws-a", 2_000_000, ["app"]))).toEqual([]);
    expect(await Effect.runPromise(usage.summary("ws-none", 0, ["app"]))).toEqual([]);
  });
});

describe("parseSince", () => {
  const now = Date.UTC(2026, 10, 27);
  it("reads durations and dates", () => {
    expect(parseSince("7d", now)).toBe(now - 7 * 86_400_000);
    expect(parseSince("90m", now)).toBe(now - 90 * 60_000);
    expect(parseSince("2026-11-20", now)).toBe(Date.UTC(2026, 10, 20));
  });
  it("refuses garbage, the future and windows over the limit", () => {
    expect(parseSince("yesterday", now)).toBeUndefined();
    expect(parseSince("2027-01-01", now)).toBeUndefined();
    expect(parseSince(`${MAX_USAGE_WINDOW_MS / 86_400_000 + 1}d`, now)).toBeUndefined();
  });
});
