import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dict } from "ferry";
import { connect } from "node:net";
import { createClient } from "@libsql/client";
import { encodeFrame, encodeHeadFrame, EndpointFrame, FrameReader, Limits } from "@ferry/core";
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

/** The deployed function's id, from the platform's state. */
const functionId = async (name: string): Promise<string> => {
  const db = createClient({ url: t.platform.databaseUrl });
  try {
    const rs = await db.execute({ sql: "SELECT id FROM functions WHERE name = ? AND removed_at IS NULL", args: [name] });
    return String(rs.rows[0]!.id);
  } finally {
    db.close();
  }
};

/** A connection to the agent's fast path as another edge would open it: `request` answers the type of the first frame back. */
const rawLink = async () => {
  const socket = connect({ host: "127.0.0.1", port: door().port });
  const waiters = new Map<number, (type: number) => void>();
  const reader = new FrameReader((type, stream) => {
    if (type === EndpointFrame.welcome) waiters.get(0)?.(type);
    else waiters.get(stream)?.(type);
  });
  socket.on("data", (c: Buffer) => reader.push(c));
  const next = (stream: number) => new Promise<number>((resolve) => waiters.set(stream, resolve));
  const welcome = next(0);
  socket.write(encodeFrame(EndpointFrame.hello, 0, JSON.stringify({ token: t.platform.internalToken })));
  expect(await welcome).toBe(EndpointFrame.welcome);
  let stream = 1;
  return {
    request: (fnId: string, path: string) => {
      const answer = next(++stream);
      socket.write(encodeHeadFrame(EndpointFrame.request, stream, { functionId: fnId, method: "GET", url: `http://edge${path}`, headers: [], body: "none" }));
      return answer;
    },
    close: () => socket.destroy(),
  };
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

  it("an edge in the same process as the agent (the local platform) reaches it in memory, not over TCP", async () => {
    const [served, inProcess] = [door().served, door().inProcess];
    const res = await fetch(`${base}/echo/?q=memory`);
    expect(res.status).toBe(200);
    expect((await json(res)).q).toBe("memory");
    expect(door().served - served).toBe(1);
    expect(door().inProcess - inProcess).toBe(1);
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

  it("maxInputs holds on the fast path: the edge sends no more than the slots, and the agent turns away any other edge's extra", async () => {
    const key = `gate-${Date.now()}`;
    const gates = Dict.fromName("e2e-fast-gates", { createIfMissing: true });
    await gates.put("open", true);
    await waitFor("gate on the fast path", async () => {
      const { value, fast } = await counted(async () => (await fetch(`${base}/gate/?key=open`)).status);
      return value === 200 && fast === 1 ? true : undefined;
    }, 60_000);
    const servedBefore = door().served;
    const pending = [1, 2, 3].map(() => fetch(`${base}/gate/?key=${key}`));
    // Two take the container's two slots; the third goes the queue's way and waits for a slot.
    await waitFor("two requests on the fast path", () => (door().served - servedBefore >= 2 ? true : undefined), 30_000);
    // Another edge (a raw connection to the agent, with the internal token) finds no slot either.
    const other = await rawLink();
    expect(await other.request(await functionId("gate"), "/?key=other")).toBe(EndpointFrame.busy);
    other.close();
    await new Promise((r) => setTimeout(r, 500));
    expect(door().served - servedBefore).toBe(2);
    await gates.put(key, true);
    const bodies = await Promise.all(pending.map(async (p) => json(await p)));
    expect(bodies.map((b) => b.most as number)).toEqual(bodies.map(() => 2));
    expect(new Set(bodies.map((b) => b.container)).size).toBe(1);
  }, 120_000);

  it("the agent's fast path refuses a connection without the internal token", async () => {
    const socket = connect({ host: "127.0.0.1", port: door().port });
    socket.write(encodeFrame(EndpointFrame.hello, 0, JSON.stringify({ token: "not-the-token" })));
    const closed = await new Promise<boolean>((resolve) => {
      socket.on("data", () => resolve(false));
      socket.on("close", () => resolve(true));
      socket.on("error", () => undefined);
    });
    expect(closed).toBe(true);
  }, 30_000);

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

  it("no response head within the function's timeout on the fast path: 504, and the container is replaced", async () => {
    const before = await waitFor("stuck on the fast path", async () => {
      const { value, fast } = await counted(async () => (await fetch(`${base}/stuck/`)).text());
      return fast === 1 && value.startsWith("ct-") ? value : undefined;
    }, 60_000);
    const started = Date.now();
    const { value: res, fast } = await counted(() => fetch(`${base}/stuck/?hang=1`));
    expect(fast).toBe(1);
    expect(res.status).toBe(504);
    expect((await json(res)).error).toEqual({ type: "FunctionTimeoutError", message: "the endpoint did not start its response within the function's timeout (2s)" });
    expect(Date.now() - started).toBeLessThan(15_000);
    // As for an input that outran its timeout, its container was killed; minContainers brings another.
    const after = await waitFor("a new stuck container to answer", async () => {
      const r = await fetch(`${base}/stuck/`);
      const text = await r.text();
      return r.status === 200 && text !== before ? text : undefined;
    }, 60_000);
    expect(after).toMatch(/^ct-/);
  }, 150_000);

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
    // Served warm by a live container of the function (the autoscaler may have started a second one
    // meanwhile, so not necessarily the first).
    expect((await containers()).filter((c) => c.function === "lazy").map((c) => c.id)).toContain(warm);
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
