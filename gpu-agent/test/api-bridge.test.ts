import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Limits } from "@ferry/core";
import { ApiBridge, routeBridgeRequest } from "../src/containers/api-bridge.ts";

const API = "http://127.0.0.1:8787";
const route = (method: string, path: string, body?: string, inFlight = 0) => routeBridgeRequest({ method, path, body }, { apiUrl: API, inFlight });
const refusal = (r: ReturnType<typeof route>) => ("refused" in r ? { status: r.refused.status, ...JSON.parse(r.refused.body as string).error } : undefined);

describe("which requests leave a container (routeBridgeRequest)", () => {
  it("a /v1 request goes to the API it is bridged to", () => {
    expect(route("GET", "/v1/dicts")).toEqual({ url: `${API}/v1/dicts` });
    expect(route("POST", "/v1/queues/jobs/get?x=1", "{}")).toEqual({ url: `${API}/v1/queues/jobs/get?x=1` });
  });

  it("paths outside /v1, other hosts and .. escapes are refused with 400", () => {
    for (const path of ["/internal/stores/ws-1/dicts", "v1/dicts", "//evil.example/v1/x", "http://evil.example/v1/x", "/v1/../internal/health", "/v1/%2e%2e/internal/health"]) {
      expect(refusal(route("GET", path)), path).toMatchObject({ status: 400, type: "ValidationError" });
    }
  });

  it("the token routes are refused with 403, so user code cannot mint a token", () => {
    expect(refusal(route("POST", "/v1/tokens", "{}"))).toMatchObject({ status: 403, type: "ForbiddenError" });
    expect(refusal(route("DELETE", "/v1/tokens/tk-1"))).toMatchObject({ status: 403 });
    expect(refusal(route("GET", "/v1/tokens/../tokens"))).toMatchObject({ status: 403 });
  });

  it("odd methods, oversized bodies and too many requests in flight are refused", () => {
    expect(refusal(route("CONNECT", "/v1/dicts"))).toMatchObject({ status: 400 });
    expect(refusal(route("POST", "/v1/dicts", "x".repeat(Limits.maxContainerApiRequestBytes + 1)))).toMatchObject({ status: 413, message: expect.stringContaining("maxContainerApiRequestBytes") });
    expect(refusal(route("GET", "/v1/dicts", undefined, Limits.maxContainerApiInFlight))).toMatchObject({ status: 429 });
  });

  it("a byte body ({ base64 }) counts its decoded size; a body of any other shape is a 400", () => {
    const base64 = (n: number) => ({ base64: Buffer.alloc(n).toString("base64") });
    const bytes = (n: number) => routeBridgeRequest({ method: "PUT", path: "/v1/volumes/v/blocks/ab", body: base64(n) }, { apiUrl: API, inFlight: 0 });
    expect(bytes(Limits.maxContainerApiRequestBytes)).toEqual({ url: `${API}/v1/volumes/v/blocks/ab` });
    expect(refusal(bytes(Limits.maxContainerApiRequestBytes + 1))).toMatchObject({ status: 413, message: expect.stringContaining("maxContainerApiRequestBytes") });
    for (const body of [{ data: "AA==" }, 42, null]) {
      const r = routeBridgeRequest({ method: "PUT", path: "/v1/x", body: body as never }, { apiUrl: API, inFlight: 0 });
      expect(refusal(r), JSON.stringify(body)).toMatchObject({ status: 400, type: "ValidationError" });
    }
  });

  it("without an API URL every request answers 503, saying why", () => {
    const r = routeBridgeRequest({ method: "GET", path: "/v1/dicts" }, { apiUrl: "", inFlight: 0 });
    expect(refusal(r)).toMatchObject({ status: 503, message: expect.stringContaining("without an API URL") });
  });
});

describe("ApiBridge against a real HTTP server", () => {
  let server: Server;
  let url: string;
  const seen: Array<{ method: string; path: string; auth: string | undefined; contentType?: string; body: string; bodyHex: string }> = [];
  const read = (req: IncomingMessage) => new Promise<Buffer>((r) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => r(Buffer.concat(parts)));
  });

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const body = await read(req);
      seen.push({ method: req.method!, path: req.url!, auth: req.headers.authorization, contentType: req.headers["content-type"], body: body.toString(), bodyHex: body.toString("hex") });
      if (req.url === "/v1/huge") {
        res.writeHead(200, { "content-type": "application/json" });
        const chunk = "x".repeat(1024 * 1024);
        for (let i = 0; i <= Limits.maxContainerApiResponseBytes / chunk.length; i++) if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
        res.end();
      } else if (req.url === "/v1/declared-huge") {
        // Says up front that it is too big, then stalls: the bridge must not wait for the rest.
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(Limits.maxContainerApiResponseBytes + 1) });
        res.write(Buffer.alloc(1024));
      } else if (req.url === "/v1/file") {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.end(Buffer.from([0, 1, 254, 255]));
      } else if (req.url === "/v1/slow") {
        setTimeout(() => res.end("{}"), 5_000);
      } else {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { type: "NotFoundError", message: "dict x not found" } }));
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("adds the container's token, relays the body, and returns status, body and content type unchanged", async () => {
    const bridge = new ApiBridge({ apiUrl: url, apiToken: "fry_secret" });
    const r = await bridge.handle({ method: "POST", path: "/v1/dicts/x/get", body: '{"key":"k"}' });
    expect(r).toEqual({ status: 404, contentType: "application/json", body: JSON.stringify({ error: { type: "NotFoundError", message: "dict x not found" } }) });
    expect(seen.at(-1)).toMatchObject({ method: "POST", path: "/v1/dicts/x/get", auth: "Bearer fry_secret", contentType: "application/json", body: '{"key":"k"}' });
  });

  it("an answer over maxContainerApiResponseBytes becomes a 413 instead of entering the container", async () => {
    const r = await new ApiBridge({ apiUrl: url, apiToken: "t" }).handle({ method: "GET", path: "/v1/huge" });
    expect(r.status).toBe(413);
    expect(r.body).toContain("maxContainerApiResponseBytes");
  });

  it("a non-JSON answer is relayed as bytes ({ base64 }); JSON stays text", async () => {
    const r = await new ApiBridge({ apiUrl: url, apiToken: "t" }).handle({ method: "GET", path: "/v1/file" });
    expect(r).toEqual({ status: 200, contentType: "application/octet-stream", body: { base64: Buffer.from([0, 1, 254, 255]).toString("base64") } });
  });

  it("an answer whose content-length is over the limit is refused at once, without reading it", async () => {
    const started = Date.now();
    const r = await new ApiBridge({ apiUrl: url, apiToken: "t" }).handle({ method: "GET", path: "/v1/declared-huge" });
    expect(r.status).toBe(413);
    expect(r.body).toContain("maxContainerApiResponseBytes");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("a byte body goes to the API as application/octet-stream, byte for byte", async () => {
    const bytes = Buffer.from([0, 10, 13, 255, 128]);
    await new ApiBridge({ apiUrl: url, apiToken: "t" }).handle({ method: "PUT", path: "/v1/blocks", body: { base64: bytes.toString("base64") } });
    expect(seen.at(-1)).toMatchObject({ method: "PUT", path: "/v1/blocks", contentType: "application/octet-stream", bodyHex: bytes.toString("hex") });
  });

  it("an aborted request stops waiting; an API that is down answers 503", async () => {
    const ctl = new AbortController();
    const started = Date.now();
    const pending = new ApiBridge({ apiUrl: url, apiToken: "t" }).handle({ method: "GET", path: "/v1/slow" }, ctl.signal);
    setTimeout(() => ctl.abort(), 100);
    expect((await pending).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2_000);
    const down = await new ApiBridge({ apiUrl: "http://127.0.0.1:1", apiToken: "t" }).handle({ method: "GET", path: "/v1/dicts" });
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body as string).error.message).toMatch(/did not answer/);
  });
});
