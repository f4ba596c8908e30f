// Bytes through the whole API bridge, in-process: the SDK's client → the runner's transport →
// JSON lines over a duplex pair (fd 3) → the agent's RunnerConnection → ApiBridge → a real HTTP
// server, and back.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { duplexPair } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Limits } from "@ferry/core";
import { FerryApiError, FerryClient } from "../../sdk/src/index.ts";
import { containerTransport } from "../../sdk/src/client/container-transport.ts";
import { ApiBridge } from "../src/containers/api-bridge.ts";
import { RunnerConnection } from "../src/containers/runner-connection.ts";
import { installApiTransport } from "../src/runner/api-transport.ts";
import { lineSplitter, type FromRunner, type ToRunner } from "../src/runner/runner-protocol.ts";

const ALL_BYTES = Uint8Array.from({ length: 1024 * 1024 }, (_, i) => i % 256);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let server: Server;
let client: FerryClient;
const seen: Array<{ method: string; url: string; contentType: string | undefined; sha: string; bytes: number }> = [];

beforeAll(async () => {
  const stored = new Map<string, Buffer>();
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method!, url: req.url!, contentType: req.headers["content-type"], sha: sha256(body), bytes: body.length });
    const path = new URL(req.url!, "http://x").searchParams.get("path") ?? "";
    if (req.method === "PUT") {
      stored.set(path, body);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ stored: body.length }));
    } else if (stored.has(path)) {
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(stored.get(path));
    } else {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { type: "NotFoundError", message: `file ${path} not found` } }));
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  // The runner's end of fd 3 and the agent's, joined by a duplex pair.
  const [runnerEnd, agentEnd] = duplexPair();
  const api = installApiTransport((m: FromRunner) => runnerEnd.write(`${JSON.stringify(m)}\n`));
  runnerEnd.on("data", lineSplitter((line) => {
    const m = JSON.parse(line) as ToRunner;
    if (m.t === "api_res") api.receive(m);
  }));
  const bridge = new ApiBridge({ apiUrl, apiToken: "fry_t" });
  new RunnerConnection(agentEnd).serveApi((req, signal) => bridge.handle(req, signal));
  client = new FerryClient({ url: "ferry-container://api", token: "", transport: containerTransport()! });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("bytes through the API bridge", () => {
  it("a byte body leaves as application/octet-stream and arrives byte for byte", async () => {
    const res = await client.rawBytes("PUT", "/v1/store?path=a.bin", ALL_BYTES);
    expect(await res.json()).toEqual({ stored: ALL_BYTES.length });
    expect(seen.at(-1)).toEqual({ method: "PUT", url: "/v1/store?path=a.bin", contentType: "application/octet-stream", sha: sha256(ALL_BYTES), bytes: ALL_BYTES.length });
  });

  it("an octet-stream answer comes back as the same bytes", async () => {
    const res = await client.rawBytes("GET", "/v1/store?path=a.bin");
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(ALL_BYTES));
  });

  it("JSON requests and answers still travel as text", async () => {
    const res = await client.raw("PUT", "/v1/store?path=j", { a: "é" });
    expect(await res.json()).toEqual({ stored: Buffer.byteLength('{"a":"é"}') });
    expect(seen.at(-1)).toMatchObject({ contentType: "application/json", sha: sha256(Buffer.from('{"a":"é"}')) });
  });

  it("a missing file is the API's 404, as a FerryApiError", async () => {
    const e = await client.rawBytes("GET", "/v1/store?path=nope").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FerryApiError);
    expect(e).toMatchObject({ status: 404, type: "NotFoundError", message: "file nope not found" });
  });

  it("a byte body over maxContainerApiRequestBytes is refused in the container with a 413 naming the limit", async () => {
    const before = seen.length;
    const e = await client.rawBytes("PUT", "/v1/store?path=big", new Uint8Array(Limits.maxContainerApiRequestBytes + 1)).catch((x: unknown) => x);
    expect(e).toMatchObject({ status: 413, type: "PayloadTooLargeError", message: expect.stringContaining("maxContainerApiRequestBytes") });
    expect(seen.length).toBe(before);
  });

  it("a byte body at exactly the limit passes", async () => {
    const body = new Uint8Array(Limits.maxContainerApiRequestBytes).fill(7);
    await client.rawBytes("PUT", "/v1/store?path=edge", body);
    expect(seen.at(-1)).toMatchObject({ bytes: body.length, sha: sha256(body) });
  }, 30_000);
});
