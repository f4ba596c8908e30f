import { describe, expect, it } from "vitest";
import { decodeAt, DictPutRequest, Limits, oversizedStoreValue, partitionProblem, QueueGetRequest, storeKeyProblem, storeNameProblem } from "../src/index.ts";

describe("Dict keys and Queue partition keys", () => {
  const problem = (key: string) => storeKeyProblem(key, Limits.maxDictKeyBytes, "maxDictKeyBytes");

  it("any non-empty string without control characters is a key: dots, slashes, spaces, wildcards, Unicode", () => {
    for (const key of ["a", "user:42", "a.b.c", "path/to/x", "with spaces", "*", ">", "ünïcode ✓", "😀", "k".repeat(Limits.maxDictKeyBytes)]) {
      expect(problem(key), key).toBeUndefined();
    }
  });

  it("an empty key, a control character or a lone surrogate is refused, saying why", () => {
    expect(problem("")).toBe("expected a non-empty string");
    expect(problem("a\nb")).toMatch(/control characters/);
    expect(problem("\u007f")).toMatch(/control characters/);
    expect(problem("\ud800x")).toMatch(/well-formed Unicode/);
  });

  it("a key over the byte limit is refused naming the limit, counting UTF-8 bytes", () => {
    expect(problem("k".repeat(Limits.maxDictKeyBytes + 1))).toBe(`is ${Limits.maxDictKeyBytes + 1} bytes; the limit (maxDictKeyBytes) is ${Limits.maxDictKeyBytes} bytes`);
    // 2 bytes per character in UTF-8.
    expect(problem("é".repeat(Limits.maxDictKeyBytes / 2 + 1))).toMatch(/maxDictKeyBytes/);
  });

  it("a partition key has its own, smaller limit and names the field at fault", () => {
    expect(partitionProblem("eu-west", "body.partition")).toBeUndefined();
    expect(partitionProblem("p".repeat(Limits.maxQueuePartitionBytes + 1), "query.partition")).toMatchObject({ field: "query.partition", message: expect.stringContaining("maxQueuePartitionBytes") });
  });
});

describe("Dict and Queue names", () => {
  it("follow the name pattern; a bad one is a ValidationError naming the field", () => {
    expect(storeNameProblem("cache_v2-eu", "path.name")).toBeUndefined();
    for (const bad of ["", "9lives", "has space", "a.b", "x".repeat(65)]) {
      expect(storeNameProblem(bad, "path.name"), bad).toMatchObject({ _tag: "ValidationError", field: "path.name" });
    }
  });
});

describe("value sizes", () => {
  it("the first value over the limit is named; values within it pass", () => {
    expect(oversizedStoreValue([1, "x"], 10, "maxQueueItemBytes", (i) => `queue item ${i}`)).toBeUndefined();
    const e = oversizedStoreValue([1, "x".repeat(20), "y".repeat(30)], 10, "maxQueueItemBytes", (i) => `queue item ${i}`);
    expect(e).toMatchObject({ _tag: "PayloadTooLargeError", limit: "maxQueueItemBytes", maxBytes: 10 });
    expect(e?.message).toBe("queue item 1 is 22 bytes encoded; the limit (maxQueueItemBytes) is 10 bytes");
  });
});

describe("request bodies", () => {
  it("a put names the entry and field at fault", () => {
    const r = decodeAt(DictPutRequest, { entries: [{ key: "ok", value: 1 }, { key: "", value: 2 }] }, "body");
    expect(r).toMatchObject({ _tag: "Failure", failure: { field: "body.entries[1].key" } });
    expect(decodeAt(DictPutRequest, { entries: [{ key: "k" }] }, "body")).toMatchObject({ _tag: "Failure", failure: { field: "body.entries[0].value" } });
    expect(decodeAt(DictPutRequest, { entries: [] }, "body")).toMatchObject({ _tag: "Failure", failure: { field: "body.entries" } });
    expect(decodeAt(DictPutRequest, { entries: [{ key: "k", value: null }], ttl: -1 }, "body")).toMatchObject({ _tag: "Failure", failure: { field: "body.ttl" } });
    expect(decodeAt(DictPutRequest, { entries: [{ key: "k", value: null }], ttl: 1.5 }, "body")).toMatchObject({ _tag: "Success" });
  });

  it("a get waits at most maxWaitMs per request and takes 1 to maxStoreItemsPerRequest items", () => {
    expect(decodeAt(QueueGetRequest, { n: 5, timeout: Limits.maxWaitMs / 1000 }, "body")).toMatchObject({ _tag: "Success" });
    expect(decodeAt(QueueGetRequest, { timeout: Limits.maxWaitMs / 1000 + 1 }, "body")).toMatchObject({ _tag: "Failure", failure: { field: "body.timeout" } });
    expect(decodeAt(QueueGetRequest, { n: Limits.maxStoreItemsPerRequest + 1 }, "body")).toMatchObject({ _tag: "Failure", failure: { field: "body.n" } });
    expect(decodeAt(QueueGetRequest, { n: 1.5 }, "body")).toMatchObject({ _tag: "Failure", failure: { field: "body.n" } });
  });
});
