import { join } from "node:path";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Limits, Storage } from "@ferry/core";
import { openLibsql } from "@ferry/core/node";
import { Dict, FerryApiError, FerryClient, Queue } from "ferry";
import { REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

/**
 * Dicts and Queues on the real platform (NATS KV and JetStream behind the region, reached through
 * the edge), used from outside and from inside containers through their API bridge.
 */

const STORE_APP = join(REPO_ROOT, "test/fixtures/apps/store-app.ts");
type StoreApp = typeof import("../fixtures/apps/store-app.ts");

let t: TestPlatform;
let fns: StoreApp;
/** A client of a second workspace on the same platform. */
let other: FerryClient;

const otherWorkspaceClient = async (): Promise<FerryClient> => {
  const db = await openLibsql(t.platform.databaseUrl);
  try {
    const secret = await Effect.runPromise(Effect.gen(function*() {
      const storage = yield* Storage;
      const ws = yield* storage.ensureWorkspace("other-team");
      return (yield* storage.createToken(ws.id, "other")).secret;
    }).pipe(Effect.provide(Storage.layerClient(db))));
    return new FerryClient({ url: t.platform.url, token: secret });
  } finally {
    db.close();
  }
};

/** A raw `/v1` request as this workspace: status and parsed body. */
const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
  const res = await fetch(`${t.platform.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${t.platform.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
};

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: unknown) => e as FerryApiError);
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Each CLI call starts a node process: seconds apiece on a loaded machine. */
const CLI_TEST_TIMEOUT_MS = 180_000;
/** Filling a Dict or Queue to its 100,000-item limit. */
const FILL_TEST_TIMEOUT_MS = 180_000;

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  const d = await t.deploy(STORE_APP, "deployed");
  fns = Object.fromEntries(d.discovered.functions.map((f) => [f.name, f.handle])) as unknown as StoreApp;
  other = await otherWorkspaceClient();
}, 90_000);
afterAll(() => t?.stop());

describe("the API from inside a container (the API bridge)", () => {
  it("a function calls its sibling's .remote() from inside its container", async () => {
    expect(await fns.relaySquare.remote(7)).toBe(49);
  });

  it("spawn and FunctionCall.get work inside a container (the outputs stream crosses the bridge)", async () => {
    expect(await fns.spawnSquare.remote(12)).toBe(144);
  });

  it("Function.lookup works inside a container without FERRY_URL", async () => {
    expect(await fns.lookupSquare.remote(9)).toBe(81);
  });

  it("user code never sees a platform token and cannot mint tokens through the bridge", async () => {
    expect(await fns.credentials.remote()).toEqual({ tokenVariables: [], tokens: "403 ForbiddenError" });
  });

  it("an API error inside a container reaches user code as a FerryApiError with its message", async () => {
    const err = await failure(fns.dictMissing.remote("never-made"));
    expect(err.name).toBe("FerryApiError");
    expect(err.message).toMatch(/^dict never-made not found: create it with Dict\.fromName\("never-made", \{ createIfMissing: true \}\)/);
  });
});

describe("Dict", () => {
  it("a structured value put outside is read inside a container, and one put inside is read outside", async () => {
    const value = { when: new Date("2026-01-02T03:04:05Z"), big: 2n ** 80n, bytes: new Uint8Array([1, 2, 255]), tags: new Map([["a", new Set([1])]]) };
    const d = Dict.fromName("shared", { createIfMissing: true });
    await d.put("from-outside", value);
    expect(await fns.dictGet.remote("shared", "from-outside")).toEqual(value);
    expect(await fns.dictPut.remote("shared", "from-inside", { n: 1, at: new Date(0) })).toBe(true);
    expect(await d.get("from-inside")).toEqual({ n: 1, at: new Date(0) });
    expect(await fns.dictGet.remote("shared", "absent")).toBe("(missing)");
  });

  it("get, has, delete, keys, len and clear", async () => {
    const d = Dict.fromName<string>("ops", { createIfMissing: true });
    expect(await d.get("k")).toBeUndefined();
    expect(await d.get("k", "fallback")).toBe("fallback");
    await d.put("k", "v1");
    await d.put("k", "v2");
    await d.put("any string: ünïcode/dots.and spaces", "v3");
    expect(await d.get("k")).toBe("v2");
    expect(await d.has("k")).toBe(true);
    expect((await d.keys()).sort()).toEqual(["any string: ünïcode/dots.and spaces", "k"]);
    expect(await d.len()).toBe(2);
    expect(await d.delete("k")).toBe(true);
    expect(await d.delete("k")).toBe(false);
    expect(await d.has("k")).toBe(false);
    await d.update({ a: "1", b: "2", c: "3" });
    expect(await d.len()).toBe(4);
    await d.clear();
    expect(await d.len()).toBe(0);
    expect(await d.keys()).toEqual([]);
  });

  it("an entry put with a ttl reads as absent once it expires, and leaves keys and len", async () => {
    const d = Dict.fromName("ttl", { createIfMissing: true });
    await d.put("short", 1, { ttl: 0.5 });
    await d.put("long", 2, { ttl: 600 });
    await d.put("forever", 3);
    expect(await d.get("short")).toBe(1);
    await sleep(700);
    expect(await d.get("short")).toBeUndefined();
    expect(await d.has("short")).toBe(false);
    expect(await d.delete("short")).toBe(false);
    expect((await d.keys()).sort()).toEqual(["forever", "long"]);
    expect(await d.len()).toBe(2);
  });

  it("a value over maxDictValueBytes is refused with 413 and nothing is written", async () => {
    const d = Dict.fromName("sizes", { createIfMissing: true });
    const err = await failure(d.put("big", "x".repeat(Limits.maxDictValueBytes)));
    expect(err).toMatchObject({ status: 413, type: "PayloadTooLargeError" });
    expect(err.message).toContain("maxDictValueBytes");
    expect(await d.has("big")).toBe(false);
    const batch = await failure(d.update({ small: 1, huge: "y".repeat(Limits.maxDictValueBytes) }));
    expect(batch.status).toBe(413);
    expect(await d.len()).toBe(0);
  });

  it("invalid keys, names and ttls are refused with a 400 naming the field", async () => {
    const d = Dict.fromName("valid", { createIfMissing: true });
    expect(await failure(d.put("", 1))).toMatchObject({ status: 400, field: "body.entries[0].key" });
    expect(await failure(d.put("tab\there", 1))).toMatchObject({ status: 400, field: "body.entries[0].key", message: expect.stringContaining("control characters") });
    expect(await failure(d.put("k".repeat(Limits.maxDictKeyBytes + 1), 1))).toMatchObject({ status: 400, field: "body.entries[0].key", message: expect.stringContaining("maxDictKeyBytes") });
    expect(await failure(d.get(""))).toMatchObject({ status: 400, field: "body.key" });
    expect(await failure(d.put("k", 1, { ttl: 0 }))).toMatchObject({ status: 400, field: "body.ttl" });
    expect(await failure(d.put("k", 1, { ttl: Limits.maxDictTtlS + 1 }))).toMatchObject({ status: 400, field: "body.ttl" });
    expect(await failure(Dict.fromName("bad name!", { createIfMissing: true }).len())).toMatchObject({ status: 400, field: "path.name" });
    expect(await api("POST", "/v1/dicts/valid/put", { entries: [{ key: "k" }] })).toMatchObject({ status: 400, json: { error: { field: "body.entries[0].value" } } });
    expect(await api("POST", "/v1/dicts/valid/get", "not an object")).toMatchObject({ status: 400 });
  });

  it("a Dict that does not exist is not found, with how to create it; rm deletes one", async () => {
    const err = await failure(Dict.fromName("nowhere").get("k"));
    expect(err).toMatchObject({ status: 404, type: "NotFoundError" });
    expect(err.message).toContain("createIfMissing: true");
    const d = Dict.fromName("doomed", { createIfMissing: true });
    await d.put("k", 1);
    await Dict.delete("doomed");
    expect(await failure(Dict.fromName("doomed").get("k"))).toMatchObject({ status: 404 });
    expect(await failure(Dict.delete("doomed"))).toMatchObject({ status: 404 });
  });

  it("another workspace's Dict of the same name is a different Dict", async () => {
    const mine = Dict.fromName("team-notes", { createIfMissing: true });
    await mine.put("secret", "mine");
    expect(await failure(Dict.fromName("team-notes", { client: other }).get("secret"))).toMatchObject({ status: 404 });
    const theirs = Dict.fromName("team-notes", { client: other, createIfMissing: true });
    expect(await theirs.get("secret")).toBeUndefined();
    await theirs.put("secret", "theirs");
    expect(await mine.get("secret")).toBe("mine");
    const listed = await other.request<{ dicts: Array<{ name: string }> }>("GET", "/v1/dicts");
    expect(listed.dicts.map((x) => x.name)).toEqual(["team-notes"]);
  });

  it("a Dict holds at most maxDictKeys keys: new keys beyond are refused whole, updates land, expired entries make room", async () => {
    const d = Dict.fromName<number>("full", { createIfMissing: true });
    const keys = range(Limits.maxDictKeys).map((i) => `k${i}`);
    await d.update(keys.map((k, i) => [k, i] as const));
    expect(await d.len()).toBe(Limits.maxDictKeys);
    const one = await failure(d.put("one-more", 1));
    expect(one).toMatchObject({ status: 409, type: "ConflictError" });
    expect(one.message).toContain("maxDictKeys");
    // An update of two existing keys and one new one is refused whole.
    expect(await failure(d.update({ k0: -1, k1: -1, brandNew: 1 }))).toMatchObject({ status: 409 });
    expect(await d.get("k0")).toBe(0);
    expect(await d.has("brandNew")).toBe(false);
    // Existing keys still take new values; a deleted key frees its slot.
    await d.put("k5", -5);
    expect(await d.get("k5")).toBe(-5);
    expect(await d.delete("k6")).toBe(true);
    await d.put("one-more", 1);
    expect(await d.get("one-more")).toBe(1);
    // An expired entry holds its slot only until a full Dict needs it.
    expect(await d.delete("k7")).toBe(true);
    const putAt = Date.now();
    await d.put("fleeting", 1, { ttl: 8 });
    expect(await failure(d.put("waiting", 1))).toMatchObject({ status: 409 });
    await sleep(Math.max(0, 8_300 - (Date.now() - putAt)));
    await d.put("waiting", 1);
    expect(await d.get("waiting")).toBe(1);
    expect(await d.has("fleeting")).toBe(false);
    expect(await d.len()).toBe(Limits.maxDictKeys);
    await Dict.delete("full");
  }, FILL_TEST_TIMEOUT_MS);
});

describe("Queue", () => {
  it("items come out in FIFO order", async () => {
    const q = Queue.fromName<number>("fifo", { createIfMissing: true });
    await q.putMany(range(100));
    await q.put(100);
    const out: number[] = [];
    while (out.length < 101) out.push(...await q.getMany(17, { timeout: 0 }));
    expect(out).toEqual(range(101));
    expect(await q.get({ timeout: 0 })).toBeUndefined();
  });

  it("an item put inside a container is got outside, and one put outside is got inside", async () => {
    expect(await fns.queuePut.remote("handoff", [{ from: "inside", at: new Date(5) }])).toBe(1);
    const q = Queue.fromName("handoff");
    expect(await q.get({ timeout: 5 })).toEqual({ from: "inside", at: new Date(5) });
    await q.putMany([1n, "two"]);
    expect(await fns.queueGet.remote("handoff", 10, 5)).toEqual([1n, "two"]);
  });

  it("partitions are separate FIFOs with their own len; clear takes one partition or all", async () => {
    const q = Queue.fromName<string>("parts", { createIfMissing: true });
    await q.putMany(["d1", "d2"]);
    await q.putMany(["a1", "a2", "a3"], { partition: "alpha" });
    await q.put("b1", { partition: "beta/β with spaces" });
    expect(await q.len()).toBe(2);
    expect(await q.len({ partition: "alpha" })).toBe(3);
    expect(await q.len({ total: true })).toBe(6);
    expect(await q.get({ partition: "alpha", timeout: 0 })).toBe("a1");
    expect(await q.get({ timeout: 0 })).toBe("d1");
    expect(await q.get({ partition: "beta/β with spaces", timeout: 0 })).toBe("b1");
    await q.clear({ partition: "alpha" });
    expect(await q.len({ partition: "alpha" })).toBe(0);
    expect(await q.len()).toBe(1);
    await q.put("a4", { partition: "alpha" });
    await q.clear({ all: true });
    expect(await q.len({ total: true })).toBe(0);
  });

  it("get with a timeout returns undefined when nothing arrives in time", async () => {
    const q = Queue.fromName("idle", { createIfMissing: true });
    const started = Date.now();
    expect(await q.get({ timeout: 1.5 })).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(await q.getMany(3, { timeout: 0 })).toEqual([]);
  });

  it("a waiting get returns an item put while it waits, and getMany returns what is there without waiting for n", async () => {
    const q = Queue.fromName("wake", { createIfMissing: true });
    const waiting = q.get({ timeout: 20 });
    await sleep(300);
    const started = Date.now();
    await q.put("hello");
    expect(await waiting).toBe("hello");
    expect(Date.now() - started).toBeLessThan(5_000);
    await q.putMany(["x", "y"]);
    expect(await q.getMany(10, { timeout: 10 })).toEqual(["x", "y"]);
  });

  it("concurrent getters, inside containers and out, each get distinct items", async () => {
    const q = Queue.fromName<number>("contended", { createIfMissing: true });
    const outside = range(12).map(() => q.getMany(2, { timeout: 20 }));
    const inside = range(3).map(() => fns.queueGet.remote("contended", 4, 20));
    await sleep(1_000);
    await q.putMany(range(36));
    const got = [...(await Promise.all(outside)).flat(), ...(await Promise.all(inside)).flat() as number[]];
    expect(got).toHaveLength(new Set(got).size);
    const rest = await q.getMany(36, { timeout: 0 });
    expect([...got, ...rest].sort((a, b) => a - b)).toEqual(range(36));
  });

  it("an item over maxQueueItemBytes is refused with 413 and putMany writes none of the batch", async () => {
    const q = Queue.fromName("big-items", { createIfMissing: true });
    const err = await failure(q.putMany(["small", "z".repeat(Limits.maxQueueItemBytes)]));
    expect(err).toMatchObject({ status: 413, type: "PayloadTooLargeError" });
    expect(err.message).toContain("queue item 1");
    expect(await q.len()).toBe(0);
  });

  it("invalid partitions, counts and names are refused with a 400 naming the field", async () => {
    const q = Queue.fromName("checked", { createIfMissing: true });
    expect(await failure(q.put(1, { partition: "" }))).toMatchObject({ status: 400, field: "body.partition" });
    expect(await failure(q.put(1, { partition: "p".repeat(Limits.maxQueuePartitionBytes + 1) }))).toMatchObject({ status: 400, field: "body.partition" });
    expect(await failure(q.len({ partition: "" }))).toMatchObject({ status: 400, field: "query.partition" });
    expect(await failure(q.getMany(0, { timeout: 0 }))).toMatchObject({ status: 400, field: "body.n" });
    expect(await failure(q.putMany(range(Limits.maxStoreItemsPerRequest + 1)))).toMatchObject({ status: 400, field: "body.values" });
    expect(await failure(Queue.fromName("no/slash").len())).toMatchObject({ status: 400, field: "path.name" });
    expect(await api("POST", "/v1/queues/checked/get", { timeout: 51 })).toMatchObject({ status: 400, json: { error: { field: "body.timeout" } } });
  });

  it("another workspace's Queue of the same name is a different Queue", async () => {
    const mine = Queue.fromName("inbox", { createIfMissing: true });
    await mine.put("for me");
    expect(await failure(Queue.fromName("inbox", { client: other }).get({ timeout: 0 }))).toMatchObject({ status: 404 });
    const theirs = Queue.fromName("inbox", { client: other, createIfMissing: true });
    expect(await theirs.get({ timeout: 0 })).toBeUndefined();
    expect(await mine.get({ timeout: 0 })).toBe("for me");
  });

  it("a partition holds at most maxQueuePartitionItems and a Queue maxQueueItems; a put that does not fit keeps nothing", async () => {
    const q = Queue.fromName<number>("capacity", { createIfMissing: true });
    const fill = async (partition: string, n: number) => {
      for (let i = 0; i < n; i += Limits.maxStoreItemsPerRequest) await q.putMany(range(Math.min(Limits.maxStoreItemsPerRequest, n - i), i), { partition });
    };
    await fill("one", Limits.maxQueuePartitionItems - 2);
    const partitionFull = await failure(q.putMany([1, 2, 3], { partition: "one" }));
    expect(partitionFull).toMatchObject({ status: 409, type: "ConflictError" });
    expect(partitionFull.message).toContain("maxQueuePartitionItems");
    expect(await q.len({ partition: "one" })).toBe(Limits.maxQueuePartitionItems - 2);
    await q.putMany([1, 2], { partition: "one" });
    await fill("two", Limits.maxQueueItems - Limits.maxQueuePartitionItems);
    expect(await q.len({ total: true })).toBe(Limits.maxQueueItems);
    const queueFull = await failure(q.put(0, { partition: "three" }));
    expect(queueFull).toMatchObject({ status: 409 });
    expect(queueFull.message).toContain("maxQueueItems");
    expect(await q.len({ partition: "three" })).toBe(0);
    expect(await q.get({ partition: "one", timeout: 0 })).toBe(0);
    await q.put(7, { partition: "three" });
    await Queue.delete("capacity");
  }, FILL_TEST_TIMEOUT_MS);
});

describe("ferry dict / ferry queue", () => {
  it("dict round trip: create, put, get, keys, delete, list, clear, rm", async () => {
    expect((await runCli(["dict", "create", "cli-dict"], t.env)).code).toBe(0);
    expect(await runCli(["dict", "put", "cli-dict", "greeting", '{"text":"hi","n":[1,2]}'], t.env)).toMatchObject({ code: 0 });
    expect((await runCli(["dict", "get", "cli-dict", "greeting"], t.env)).stdout.trim()).toBe('{"text":"hi","n":[1,2]}');
    expect(await Dict.fromName("cli-dict").get("greeting")).toEqual({ text: "hi", n: [1, 2] });
    expect(JSON.parse((await runCli(["dict", "keys", "cli-dict", "--json"], t.env)).stdout)).toEqual(["greeting"]);
    const listed = JSON.parse((await runCli(["dict", "list", "--json"], t.env)).stdout) as Array<{ name: string }>;
    expect(listed.map((d) => d.name)).toContain("cli-dict");
    expect((await runCli(["dict", "delete", "cli-dict", "greeting"], t.env)).stdout).toContain("deleted");
    const missing = await runCli(["dict", "get", "cli-dict", "greeting"], t.env);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('error: no key "greeting" in dict cli-dict');
    expect((await runCli(["dict", "clear", "cli-dict"], t.env)).code).toBe(0);
    expect((await runCli(["dict", "rm", "cli-dict"], t.env)).code).toBe(0);
    const gone = await runCli(["dict", "get", "cli-dict", "x"], t.env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("dict cli-dict not found");
  }, CLI_TEST_TIMEOUT_MS);

  it("dict put refuses a value that is not JSON, in one line", async () => {
    await runCli(["dict", "create", "cli-bad"], t.env);
    const r = await runCli(["dict", "put", "cli-bad", "k", "{oops"], t.env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("not valid JSON");
  }, CLI_TEST_TIMEOUT_MS);

  it("queue round trip: create, put, len, get with timeout, list, clear, rm", async () => {
    expect((await runCli(["queue", "create", "cli-q"], t.env)).code).toBe(0);
    expect((await runCli(["queue", "put", "cli-q", '"first"'], t.env)).code).toBe(0);
    expect((await runCli(["queue", "put", "cli-q", "2", "--partition", "p"], t.env)).code).toBe(0);
    expect((await runCli(["queue", "len", "cli-q"], t.env)).stdout.trim()).toBe("1");
    expect((await runCli(["queue", "len", "cli-q", "--total"], t.env)).stdout.trim()).toBe("2");
    expect((await runCli(["queue", "get", "cli-q"], t.env)).stdout.trim()).toBe('"first"');
    expect((await runCli(["queue", "get", "cli-q", "--partition", "p"], t.env)).stdout.trim()).toBe("2");
    const empty = await runCli(["queue", "get", "cli-q", "--timeout", "1"], t.env);
    expect(empty.code).toBe(1);
    expect(empty.stderr.trim()).toBe("error: queue cli-q had no item within 1s");
    const listed = JSON.parse((await runCli(["queue", "list", "--json"], t.env)).stdout) as Array<{ name: string }>;
    expect(listed.map((q) => q.name)).toContain("cli-q");
    await Queue.fromName("cli-q").put(3);
    expect((await runCli(["queue", "clear", "cli-q", "--all"], t.env)).code).toBe(0);
    expect(await Queue.fromName("cli-q").len({ total: true })).toBe(0);
    expect((await runCli(["queue", "rm", "cli-q"], t.env)).code).toBe(0);
    expect((await runCli(["queue", "len", "cli-q"], t.env)).code).toBe(1);
  }, CLI_TEST_TIMEOUT_MS);
});
