import { describe, expect, it } from "vitest";
import { expiresAtFor, isAbsent } from "../src/stores/dict-expiry.ts";
import { KeyedMutex } from "../src/stores/keyed-mutex.ts";
import { decodeToken, dictNames, encodeToken, queueNames, storePrefixes } from "../src/stores/store-subjects.ts";

describe("store subjects", () => {
  it("any key becomes one subject token and back: no dots, wildcards or spaces survive encoding", () => {
    for (const key of ["a", "a.b", "*", ">", "with space", "ünïcode/😀", "x".repeat(512)]) {
      const token = encodeToken(key);
      expect(token, key).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeToken(token)).toBe(key);
    }
  });

  it("a Dict's key subject decodes back to its key", () => {
    const n = dictNames("ws-abc", "cache");
    expect(n.stream).toBe("KV_FD_ws-abc_cache");
    expect(n.keyOf(n.subject("user.42 >"))).toBe("user.42 >");
    expect(n.subject("k").startsWith("$KV.FD_ws-abc_cache.")).toBe(true);
  });

  it("objects of the same name in two workspaces never share a stream or a subject", () => {
    const [a, b] = [dictNames("ws-a", "x"), dictNames("ws-b", "x")];
    expect(a.stream).not.toBe(b.stream);
    expect(a.subject("k")).not.toBe(b.subject("k"));
    const [qa, qb] = [queueNames("ws-a", "x"), queueNames("ws-b", "x")];
    expect(qa.stream).not.toBe(qb.stream);
    expect(qa.subject()).not.toBe(qb.subject());
    // A workspace's listing prefix never matches another's objects.
    expect(b.stream.startsWith(storePrefixes("ws-a").dict)).toBe(false);
    expect(dictNames("ws-ab", "x").stream.startsWith(storePrefixes("ws-a").dict)).toBe(false);
  });

  it("partitions have distinct subjects and consumers, the default one apart from every named one", () => {
    const q = queueNames("ws-a", "jobs");
    const subjects = [q.subject(), q.subject("d"), q.subject("p"), q.subject("a.b")];
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(new Set([q.consumer(), q.consumer("default"), q.consumer("x")]).size).toBe(3);
    for (const s of subjects) expect(s.startsWith(q.all.slice(0, -1))).toBe(true);
  });
});

describe("Dict entry expiry", () => {
  it("an entry with a ttl expires that many seconds after it was put", () => {
    expect(expiresAtFor(undefined, 1_000)).toBeUndefined();
    expect(expiresAtFor(1.5, 1_000)).toBe(2_500);
  });

  it("reads as absent from its expiry on, and never without one", () => {
    expect(isAbsent({ expiresAt: "2500" }, 2_499)).toBe(false);
    expect(isAbsent({ expiresAt: "2500" }, 2_500)).toBe(true);
    expect(isAbsent({ expiresAt: "" }, Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(isAbsent({}, 0)).toBe(false);
  });

  it("a KV delete or purge marker (a bucket written by `nats kv`) reads as absent", () => {
    expect(isAbsent({ operation: "DEL" }, 0)).toBe(true);
    expect(isAbsent({ operation: "PURGE" }, 0)).toBe(true);
  });
});

describe("KeyedMutex", () => {
  it("runs sections of one key one at a time, in arrival order, and other keys alongside", async () => {
    const locks = new KeyedMutex();
    const log: string[] = [];
    const section = (key: string, name: string, ms: number) => locks.run(key, async () => {
      log.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}-`);
      return name;
    });
    const results = await Promise.all([section("q", "a", 30), section("q", "b", 1), section("other", "c", 1)]);
    expect(results).toEqual(["a", "b", "c"]);
    expect(log.indexOf("a-")).toBeLessThan(log.indexOf("b+"));
    expect(log.indexOf("c-")).toBeLessThan(log.indexOf("a-"));
    expect(locks.size).toBe(0);
  });

  it("a failing section releases the key for the next", async () => {
    const locks = new KeyedMutex();
    await expect(locks.run("k", async () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(await locks.run("k", async () => "next")).toBe("next");
  });
});
