import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dict } from "ferry";
import { Limits } from "@ferry/core";
import { REPO_ROOT, runCli, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";

const ENDPOINT_APP = join(REPO_ROOT, "test/fixtures/apps/endpoint-app.ts");

let t: TestPlatform;
/** function name → its public URL, as `ferry deploy --json` printed them. */
let urls: Record<string, string>;
let base: string;

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  const deployed = await runCli(["deploy", ENDPOINT_APP, "--json"], t.env, 120_000);
  expect(deployed.stderr).not.toContain("error");
  const body = JSON.parse(deployed.stdout) as { endpoints: Array<{ function: string; url: string }> };
  urls = Object.fromEntries(body.endpoints.map((e) => [e.function, e.url]));
  base = `${t.platform.url}/default/e2e-web`;
}, 180_000);
afterAll(() => t?.stop());

const json = async (res: Response) => (await res.json()) as any;

describe("web endpoints through the edge", () => {
  it("ferry deploy prints each endpoint's URL /<workspace>/<app>/<function><path>", async () => {
    expect(urls.hello).toBe(`${t.platform.url}/default/e2e-web/hello/`);
    expect(urls.echo).toBe(`${t.platform.url}/default/e2e-web/echo/echo`);
    expect(urls.api).toBe(`${t.platform.url}/default/e2e-web/api/`);
    expect(urls.plain).toBeUndefined();
    const text = await runCli(["deploy", ENDPOINT_APP], t.env, 120_000);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("web endpoints:");
    expect(text.stdout).toMatch(new RegExp(`GET\\s+${t.platform.url}/default/e2e-web/hello/ +\\(hello, auth: none\\)`));
    expect(text.stdout).toMatch(/ANY\s+\S+\/default\/e2e-web\/api\/ +\(api, auth: none\)/);
  }, 150_000);

  it("a GET endpoint gets the query, the headers and its path under the prefix; its status and headers come back", async () => {
    const res = await fetch(`${urls.hello}?name=ferry`, { headers: { "x-test": "yes" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-handler")).toBe("hello");
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = await json(res);
    expect(body).toMatchObject({ hello: "ferry", path: "/", test: "yes", prefix: "/default/e2e-web/hello" });
  }, 90_000);

  it("a POST endpoint round-trips a binary body, its content type and a custom status", async () => {
    const bytes = randomBytes(40_000);
    const res = await fetch(urls.echo!, { method: "POST", body: bytes, headers: { "content-type": "application/x-test" } });
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toBe("application/x-test");
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  }, 90_000);

  it("a webApp serves a Hono app's routes, path parameters and query, any method", async () => {
    const user = await fetch(`${base}/api/users/42?q=x`);
    expect(user.status).toBe(200);
    expect(await json(user)).toEqual({ id: "42", q: "x" });
    const item = await fetch(`${base}/api/items`, { method: "POST", body: JSON.stringify({ n: 1 }), headers: { "content-type": "application/json" } });
    expect(item.status).toBe(201);
    expect(await json(item)).toEqual({ created: { n: 1 } });
    expect((await fetch(`${base}/api/nope`)).status).toBe(404);
  }, 90_000);

  it("a streamed response reaches the client chunk by chunk: the first event arrives before the handler writes the second", async () => {
    const key = `go-${Date.now()}`;
    const res = await fetch(`${urls.events}?key=${key}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("data: first\n\n")) seen += (await reader.read()).value ?? "";
    // The handler is now waiting for the signal: the second event cannot have been written.
    expect(seen).not.toContain("second");
    await Dict.fromName("e2e-web-signals", { createIfMissing: true }).put(key, true);
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      seen += r.value;
    }
    expect(seen).toBe("data: first\n\ndata: second\n\n");
  }, 90_000);

  it("a 32 MiB upload streams to the handler, which reads it as a stream (length and sha256 echoed)", async () => {
    const size = 32 * 1024 * 1024;
    const chunk = randomBytes(1024 * 1024);
    const expected = createHash("sha256");
    for (let i = 0; i < 32; i++) expected.update(chunk);
    let sent = 0;
    // A stream without Content-Length: it cannot travel inline, so it is pulled piece by piece.
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent++ >= 32) ctl.close();
        else ctl.enqueue(chunk);
      },
    });
    const res = await fetch(urls.upload!, { method: "POST", body, duplex: "half" } as RequestInit);
    expect(res.status).toBe(200);
    const r = await json(res);
    expect(r.length).toBe(size);
    expect(r.sha256).toBe(expected.digest("hex"));
    // Pieces are at most endpointBodyChunkBytes: the body was never one message.
    expect(r.pieces).toBeGreaterThanOrEqual(size / Limits.endpointBodyChunkBytes);
  }, 180_000);

  it("a large streamed response arrives whole", async () => {
    const res = await fetch(`${urls.download}?mib=8`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.byteLength).toBe(8 * 1024 * 1024);
    expect(bytes[1024 * 1024 + 300]).toBe(300 % 251);
  }, 120_000);

  it("auth token: 401 without or with a wrong token; a workspace token or the app's endpoint token opens it", async () => {
    const none = await fetch(urls.guarded!);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe("Bearer");
    expect((await json(none)).error.message).toMatch(/requires a token.*ferry token new --endpoint e2e-web/);
    const wrong = await fetch(urls.guarded!, { headers: { authorization: `Bearer fry_${"0".repeat(48)}` } });
    expect(wrong.status).toBe(401);
    const ws = await fetch(urls.guarded!, { headers: { authorization: `Bearer ${t.platform.token}` } });
    expect(ws.status).toBe(200);
    expect(await ws.text()).toBe("secret");

    const minted = await runCli(["token", "new", "--endpoint", "e2e-web", "--json"], t.env);
    expect(minted.code).toBe(0);
    const token = (JSON.parse(minted.stdout) as { token: string }).token;
    expect(token).toMatch(/^fep_[0-9a-f]{48}$/);
    expect((await fetch(urls.guarded!, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // It opens that app's endpoints only, and never the /v1 API.
    const other = JSON.parse((await runCli(["token", "new", "--endpoint", "another-app", "--json"], t.env)).stdout) as { token: string };
    expect((await fetch(urls.guarded!, { headers: { authorization: `Bearer ${other.token}` } })).status).toBe(401);
    expect((await fetch(`${t.platform.url}/v1/apps`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  }, 90_000);

  it("404 names what is missing: workspace, app or function, a plain function, a path the endpoint does not answer", async () => {
    const ws = await fetch(`${t.platform.url}/nobody/e2e-web/hello/`);
    expect(ws.status).toBe(404);
    expect((await json(ws)).error.message).toContain("workspace nobody not found");
    const app = await fetch(`${t.platform.url}/default/no-such-app/hello/`);
    expect(app.status).toBe(404);
    expect((await json(app)).error.message).toContain("no-such-app/hello");
    const fn = await fetch(`${base}/nothing/`);
    expect(fn.status).toBe(404);
    expect((await json(fn)).error.message).toContain("e2e-web/nothing");
    const plain = await fetch(`${base}/plain/`);
    expect(plain.status).toBe(404);
    expect((await json(plain)).error.message).toBe("function e2e-web.plain is not a web endpoint: serve it with app.endpoint or app.webApp and deploy again");
    const path = await fetch(`${base}/echo/other`, { method: "POST", body: "x" });
    expect(path.status).toBe(404);
    expect((await json(path)).error.message).toContain("answers at /default/e2e-web/echo/echo");
  }, 60_000);

  it("405 for a method the endpoint does not answer, naming the one it does", async () => {
    const res = await fetch(urls.hello!, { method: "POST", body: "x" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
  }, 60_000);

  it("413 when the declared body is over maxEndpointBodyBytes, before any byte is read", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(urls.upload!, { method: "POST", headers: { "content-length": String(Limits.maxEndpointBodyBytes + 1) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(status).toBe(413);
  }, 60_000);

  it("a handler that throws answers 500 with the error's name and message, no stack; the stack is in the app's logs", async () => {
    const res = await fetch(urls.boom!);
    expect(res.status).toBe(500);
    const body = await json(res);
    expect(body).toEqual({ error: { type: "TypeError", message: "kaboom in the handler" } });
    // Log lines reach the app's log stream shortly after the response.
    const logs = await waitFor("the handler's error in the app's logs", async () => {
      const r = await runCli(["app", "logs", "e2e-web"], t.env);
      // A container's stderr lines are printed on the CLI's stderr.
      return r.stderr.includes("kaboom in the handler") ? r.stderr : undefined;
    });
    expect(logs).toContain("endpoint handler threw: TypeError: kaboom in the handler");
    expect(logs).toMatch(/\n.*\s+at /);
  }, 90_000);

  it("a handler returning something other than a Response answers 500 saying so", async () => {
    const res = await fetch(urls.notResponse!);
    expect(res.status).toBe(500);
    expect((await json(res)).error.message).toMatch(/returned an object \(Object\), not a Response/);
  }, 90_000);

  it("no response head within the function's timeout: 504", async () => {
    const started = Date.now();
    const res = await fetch(urls.slow!);
    expect(res.status).toBe(504);
    expect((await json(res)).error.message).toContain("timeout (2s)");
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 90_000);

  it("scales from zero: the first request to an endpoint with no container starts one and is served by it", async () => {
    const list = async () => (await t.client.request<{ containers: Array<{ id: string; function: string; state?: string }> }>("GET", "/v1/containers")).containers;
    expect((await list()).filter((c) => c.function === "cold")).toEqual([]);
    const res = await fetch(urls.cold!);
    expect(res.status).toBe(200);
    const container = await res.text();
    expect(container).toMatch(/^ct-/);
    expect((await list()).some((c) => c.function === "cold" && c.id === container)).toBe(true);
  }, 90_000);
});
