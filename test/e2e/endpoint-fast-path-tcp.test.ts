import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dict } from "ferry";
import { Limits } from "@ferry/core";
import type { RunningAgent } from "@ferry/gpu-agent";
import { REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";

// The fast path between an edge and an agent in different processes (different hosts) is a TCP
// connection of frames; in one process (the local platform) it is in memory. Here the agent
// keeps its door TCP-only (`endpointInProcess: false`), as a remote agent's is, so the edge takes
// the TCP link: the same requests, bodies, streams and errors as endpoint-fast-path.test.ts.
const FAST_APP = join(REPO_ROOT, "test/fixtures/apps/endpoint-fast-app.ts");

let t: TestPlatform;
let agent: RunningAgent;
let base: string;

const json = async (res: Response) => (await res.json()) as any;
/** Run `f`; with how many requests the agent's fast path took meanwhile, and how many of them in memory. */
const counted = async <T>(f: () => Promise<T>): Promise<{ value: T; fast: number; inProcess: number }> => {
  const [served, inProcess] = [agent.endpoints.served, agent.endpoints.inProcess];
  const value = await f();
  return { value, fast: agent.endpoints.served - served, inProcess: agent.endpoints.inProcess - inProcess };
};

beforeAll(async () => {
  t = await startTestPlatform({ agents: 0 });
  agent = await t.platform.addAgent({ endpointInProcess: false });
  const deployed = await runCli(["deploy", FAST_APP], t.env, 120_000);
  expect(deployed.code).toBe(0);
  base = `${t.platform.url}/default/e2e-fast`;
  await waitFor("echo to be served on the fast path", async () => {
    const { value: res, fast } = await counted(() => fetch(`${base}/echo/`));
    await res.arrayBuffer();
    return res.status === 200 && fast === 1 ? true : undefined;
  }, 90_000);
}, 180_000);
afterAll(() => t?.stop());

describe("the web endpoint fast path over TCP (an agent in another process)", () => {
  it("a warm request takes the TCP link, not the in-process one: method, path, query and headers in; status, headers and JSON out", async () => {
    const { value: res, fast, inProcess } = await counted(() => fetch(`${base}/echo/items/7?q=x`, { headers: { "x-test": "yes" } }));
    expect([fast, inProcess]).toEqual([1, 0]);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-handler")).toBe("echo");
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await json(res)).toMatchObject({ method: "GET", path: "/items/7", q: "x", test: "yes", length: 0, container: expect.stringMatching(/^ct-/) });
  }, 60_000);

  it("request bodies reach the handler whole over TCP: small ones with the request, large streamed ones piece by piece", async () => {
    const small = randomBytes(10_000);
    const { value: inline, fast: fastInline } = await counted(() => fetch(`${base}/echo/up`, { method: "POST", body: small }));
    expect(fastInline).toBe(1);
    expect(inline.status).toBe(201);
    expect(await json(inline)).toMatchObject({ length: small.byteLength, sha256: createHash("sha256").update(small).digest("hex") });

    const chunk = randomBytes(1024 * 1024);
    const expected = createHash("sha256");
    for (let i = 0; i < 8; i++) expected.update(chunk);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({ pull: (ctl) => (sent++ >= 8 ? ctl.close() : ctl.enqueue(chunk)) });
    const { value: streamed, fast } = await counted(() => fetch(`${base}/echo/up`, { method: "POST", body, duplex: "half" } as RequestInit));
    expect(fast).toBe(1);
    const r = await json(streamed);
    expect(r.length).toBe(8 * 1024 * 1024);
    expect(r.sha256).toBe(expected.digest("hex"));
    expect(r.pieces).toBeGreaterThanOrEqual(8 * 1024 * 1024 / Limits.endpointBodyChunkBytes);
  }, 120_000);

  it("responses stream over TCP: events arrive as written, and a large body arrives whole", async () => {
    const key = `tcp-${Date.now()}`;
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

    const big = await fetch(`${base}/echo/bytes?mib=4`);
    const bytes = new Uint8Array(await big.arrayBuffer());
    expect(bytes.byteLength).toBe(4 * 1024 * 1024);
    expect(bytes[1024 * 1024 + 300]).toBe(300 % 251);
  }, 120_000);

  it("errors keep their shape over TCP: a throw is 500 with its name and message", async () => {
    const { value: boom, fast } = await counted(() => fetch(`${base}/echo/boom`));
    expect(fast).toBe(1);
    expect(boom.status).toBe(500);
    expect(await json(boom)).toEqual({ error: { type: "RangeError", message: "boom on the fast path" } });
  }, 60_000);

  it("a container dying mid-request answers 502 naming it over TCP too", async () => {
    await waitFor("fragile on the fast path", async () => {
      const { value, fast } = await counted(async () => (await fetch(`${base}/fragile/`)).text());
      return fast === 1 && value.startsWith("ct-") ? true : undefined;
    }, 60_000);
    const { value: res, fast } = await counted(() => fetch(`${base}/fragile/?die=1`));
    expect(fast).toBe(1);
    expect(res.status).toBe(502);
    expect((await json(res)).error).toMatchObject({ type: "ContainerCrashError", message: expect.stringMatching(/container ct-\S+ stopped before it answered/) });
  }, 120_000);
});
