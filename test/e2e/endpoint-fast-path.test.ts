import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dict } from "ferry";
import { Limits } from "@ferry/core";
import { REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";

// Warm web endpoint requests go straight from the edge to an agent's running container over a
// persistent multiplexed connection (the fast path); the agent's counters show which road each took.
const FAST_APP = join(REPO_ROOT, "test/fixtures/apps/endpoint-fast-app.ts");

let t: TestPlatform;
let base: string;

const door = () => t.platform.agents[0]!.endpoints;
const json = async (res: Response) => (await res.json()) as any;
const containers = async () => (await t.client.request<{ containers: Array<{ id: string; function: string }> }>("GET", "/v1/containers")).containers;
/** Run `f` and return what it returned with how many requests the agent's fast path took meanwhile. */
const counted = async <T>(f: () => Promise<T>): Promise<{ value: T; fast: number }> => {
  const before = door().served;
  const value = await f();
  return { value, fast: door().served - before };
};

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  const deployed = await runCli(["deploy", FAST_APP], t.env, 120_000);
  expect(deployed.code).toBe(0);
  base = `${t.platform.url}/default/e2e-fast`;
  // minContainers: the warm ones are up, and the edge has heard where (its routes refresh every second).
  await waitFor("echo to be served on the fast path", async () => {
    const before = door().served;
    const res = await fetch(`${base}/echo/`);
    await res.arrayBuffer();
    return res.status === 200 && door().served > before ? true : undefined;
  }, 90_000);
}, 180_000);
afterAll(() => t?.stop());

describe("the web endpoint fast path", () => {
  it("a warm request takes the fast path: method, path, query and headers in; status, headers and JSON out", async () => {
    const { value: res, fast } = await counted(() => fetch(`${base}/echo/items/7?q=x`, { headers: { "x-test": "yes" } }));
    expect(fast).toBe(1);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-handler")).toBe("echo");
    expect(await json(res)).toMatchObject({ method: "GET", path: "/items/7", q: "x", test: "yes", length: 0, container: expect.stringMatching(/^ct-/) });
  }, 60_000);

  it("request bodies reach the handler whole: small ones with the request, large streamed ones piece by piece", async () => {
    const small = randomBytes(10_000);
    const { value: inline, fast: fastInline } = await counted(() => fetch(`${base}/echo/up`, { method: "POST", body: small }));
    expect(fastInline).toBe(1);
    expect(inline.status).toBe(201);
    expect(await json(inline)).toMatchObject({ length: small.byteLength, sha256: createHash("sha256").update(small).digest("hex") });

    const chunk = randomBytes(1024 * 1024);
    const expected = createHash("sha256");
    for (let i = 0; i < 16; i++) expected.update(chunk);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({ pull: (ctl) => (sent++ >= 16 ? ctl.close() : ctl.enqueue(chunk)) });
    const { value: streamed, fast } = await counted(() => fetch(`${base}/echo/up`, { method: "POST", body, duplex: "half" } as RequestInit));
    expect(fast).toBe(1);
    const r = await json(streamed);
    expect(r.length).toBe(16 * 1024 * 1024);
    expect(r.sha256).toBe(expected.digest("hex"));
    expect(r.pieces).toBeGreaterThanOrEqual(16 * 1024 * 1024 / Limits.endpointBodyChunkBytes);
  }, 120_000);

  it("responses stream: events arrive as written, and a large body arrives whole", async () => {
    const key = `go-${Date.now()}`;
    const { value: res, fast } = await counted(() => fetch(`${base}/echo/events?key=${key}`));
    expect(fast).toBe(1);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("data: first\n\n")) seen += (await reader.read()).value ?? "";
    expect(seen).not.toContain("second");
    await Dict.fromName("e2e-fast-gates", { createIfMissing: true }).put(key, true);
    for (let r = await reader.read(); !r.done; r = await reader.read()) seen += r.value;
    expect(seen).toBe("data: first\n\ndata: second\n\n");

    const big = await fetch(`${base}/echo/bytes?mib=8`);
    const bytes = new Uint8Array(await big.arrayBuffer());
    expect(bytes.byteLength).toBe(8 * 1024 * 1024);
    expect(bytes[1024 * 1024 + 300]).toBe(300 % 251);
  }, 120_000);

  it("errors keep their shape: a throw is 500 with its name and message (stack in the logs, with the container), a non-Response 500", async () => {
    const { value: boom, fast } = await counted(() => fetch(`${base}/echo/boom`));
    expect(fast).toBe(1);
    expect(boom.status).toBe(500);
    expect(await json(boom)).toEqual({ error: { type: "RangeError", message: "boom on the fast path" } });
    const notResponse = await fetch(`${base}/echo/not-response`);
    expect(notResponse.status).toBe(500);
    expect((await json(notResponse)).error.message).toMatch(/not a Response/);
    const logs = await waitFor("the handler's stack in the app's logs", async () => {
      const r = await runCli(["app", "logs", "e2e-fast"], t.env);
      return r.stderr.includes("boom on the fast path") ? r.stderr : undefined;
    });
    expect(logs).toContain("endpoint handler threw: RangeError: boom on the fast path");
  }, 90_000);

  it("413 when a streamed body passes maxEndpointBodyBytes on the fast path", async () => {
    let sent = 0;
    const piece = new Uint8Array(4 * 1024 * 1024);
    const pieces = Math.ceil(Limits.maxEndpointBodyBytes / piece.byteLength) + 2;
    const body = new ReadableStream<Uint8Array>({ pull: (ctl) => (sent++ >= pieces ? ctl.close() : ctl.enqueue(piece)) });
    const res = await fetch(`${base}/echo/up`, { method: "POST", body, duplex: "half" } as RequestInit).catch((e: Error) => e);
    // The edge answers 413 as soon as the body passes the limit (the client may still be sending).
    if (res instanceof Error) expect(res.message).toMatch(/fetch failed|other side closed|terminated/);
    else expect(res.status).toBe(413);
  }, 120_000);

  it("maxInputs holds on the fast path: a third concurrent request waits for a slot (by the queue's road)", async () => {
    const key = `gate-${Date.now()}`;
    const gates = Dict.fromName("e2e-fast-gates", { createIfMissing: true });
    await gates.put("open", true);
    await waitFor("gate on the fast path", async () => {
      const { value, fast } = await counted(async () => (await fetch(`${base}/gate/?key=open`)).status);
      return value === 200 && fast === 1 ? true : undefined;
    }, 60_000);
    const busyBefore = door().busy;
    const servedBefore = door().served;
    const pending = [1, 2, 3].map(() => fetch(`${base}/gate/?key=${key}`));
    // Two take the container's two slots; the third is answered busy and queued.
    await waitFor("the third request to be turned away by the fast path", () => (door().busy > busyBefore ? true : undefined), 30_000);
    expect(door().served - servedBefore).toBe(2);
    await gates.put(key, true);
    const bodies = await Promise.all(pending.map(async (p) => json(await p)));
    expect(bodies.map((b) => b.most).every((m: number) => m <= 2)).toBe(true);
    expect(new Set(bodies.map((b) => b.container)).size).toBe(1);
  }, 120_000);

  it("a container dying mid-request answers 502 naming it; the next request is served by another container", async () => {
    await waitFor("both fragile containers up", async () => ((await containers()).filter((c) => c.function === "fragile").length >= 2 ? true : undefined), 60_000);
    await waitFor("fragile on the fast path", async () => {
      const { value, fast } = await counted(async () => (await fetch(`${base}/fragile/`)).text());
      return fast === 1 && value.startsWith("ct-") ? true : undefined;
    }, 30_000);
    const { value: res, fast } = await counted(() => fetch(`${base}/fragile/?die=1`));
    expect(fast).toBe(1);
    expect(res.status).toBe(502);
    const err = (await json(res)).error;
    expect(err.type).toBe("ContainerCrashError");
    expect(err.message).toMatch(/container ct-\S+ stopped before it answered/);
    const dead = /container (ct-\S+) stopped/.exec(err.message)![1];
    const next = await fetch(`${base}/fragile/`);
    expect(next.status).toBe(200);
    const servedBy = await next.text();
    expect(servedBy).toMatch(/^ct-/);
    expect(servedBy).not.toBe(dead);
  }, 120_000);

  it("scale from zero still works: the first request takes the queue and starts a container; later ones take the fast path", async () => {
    expect((await containers()).filter((c) => c.function === "lazy")).toEqual([]);
    const first = await counted(() => fetch(`${base}/lazy/`));
    expect(first.fast).toBe(0);
    expect(first.value.status).toBe(200);
    const container = await first.value.text();
    expect(container).toMatch(/^ct-/);
    const warm = await waitFor("lazy on the fast path", async () => {
      const { value, fast } = await counted(async () => (await fetch(`${base}/lazy/`)).text());
      return fast === 1 ? value : undefined;
    }, 30_000);
    expect(warm).toBe(container);
    // Idle past its scaledownWindow (3 s), it scales to zero, fast path traffic or not.
    await waitFor("lazy to scale to zero", async () => ((await containers()).some((c) => c.function === "lazy") ? undefined : true), 60_000);
  }, 150_000);

  it("a request may pin its region with x-ferry-region: served there, or 503 naming a region that is not up", async () => {
    const ok = await counted(() => fetch(`${base}/echo/`, { headers: { "x-ferry-region": "local" } }));
    expect(ok.fast).toBe(1);
    expect(ok.value.status).toBe(200);
    await ok.value.arrayBuffer();
    const other = await fetch(`${base}/echo/`, { headers: { "x-ferry-region": "mars-1" } });
    expect(other.status).toBe(503);
    expect((await json(other)).error.message).toContain("mars-1");
  }, 60_000);
});
