import { afterEach, describe, expect, it } from "vitest";
import { FerryApiError, FerryClient, Volume } from "../src/index.ts";
import { API_TRANSPORT, type ApiTransport, type ApiTransportRequest } from "../src/client/container-transport.ts";
import { CONTAINER_API_URL, resolveClientConfig } from "../src/config/client-config.ts";

/** What the Ferry runner installs in a container: here answering like the API would, in-process. */
const install = (answer: (req: ApiTransportRequest) => { status: number; body: string }): ApiTransportRequest[] => {
  const seen: ApiTransportRequest[] = [];
  const transport: ApiTransport = {
    request: async (req) => {
      seen.push(req);
      return { ...answer(req), contentType: "application/json" };
    },
  };
  Object.defineProperty(globalThis, API_TRANSPORT, { value: transport, configurable: true });
  return seen;
};

const VARS = ["FERRY_URL", "FERRY_TOKEN", "FERRY_HOME"] as const;
const saved = Object.fromEntries(VARS.map((k) => [k, process.env[k]]));
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[API_TRANSPORT];
  for (const k of VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe("the SDK inside a container", () => {
  it("finds the platform through the container's transport when FERRY_URL is not set", async () => {
    Object.assign(process.env, { FERRY_URL: "", FERRY_TOKEN: "", FERRY_HOME: "/nonexistent" });
    install(() => ({ status: 200, body: "{}" }));
    const config = await resolveClientConfig();
    expect(config?.url).toBe(CONTAINER_API_URL);
    expect(config?.transport).toBeDefined();
  });

  it("FERRY_URL and FERRY_TOKEN still win when set", async () => {
    Object.assign(process.env, { FERRY_URL: "http://127.0.0.1:9", FERRY_TOKEN: "fry_x" });
    install(() => ({ status: 200, body: "{}" }));
    expect(await resolveClientConfig()).toEqual({ url: "http://127.0.0.1:9", token: "fry_x" });
  });

  it("requests carry method, path and JSON body; error answers become FerryApiError", async () => {
    Object.assign(process.env, { FERRY_URL: "", FERRY_TOKEN: "" });
    const seen = install((req) => req.path === "/v1/dicts/x/get"
      ? { status: 404, body: JSON.stringify({ error: { type: "NotFoundError", message: "dict x not found" } }) }
      : { status: 200, body: JSON.stringify({ ok: true }) });
    const client = await FerryClient.fromEnvironment();
    expect(await client.request("POST", "/v1/queues/q/put", { values: [1] })).toEqual({ ok: true });
    expect(seen[0]).toMatchObject({ method: "POST", path: "/v1/queues/q/put", body: '{"values":[1]}' });
    const err = await client.request("POST", "/v1/dicts/x/get", { key: "k" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryApiError);
    expect(err).toMatchObject({ status: 404, type: "NotFoundError", message: "dict x not found" });
  });
});

describe("bytes inside a container (volume reads and writes)", () => {
  /** A transport like the runner's, answering volume routes from an in-memory store. */
  const installVolumeApi = (opts: { bytes?: boolean } = {}) => {
    const seen: ApiTransportRequest[] = [];
    const blocks = new Map<string, Uint8Array>();
    const files = new Map<string, Uint8Array>();
    const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body), contentType: "application/json" });
    const transport: ApiTransport = {
      ...(opts.bytes === false ? {} : { bytes: true }),
      request: async (req) => {
        seen.push(req);
        const url = new URL(req.path, "http://x");
        if (url.pathname.endsWith("/blocks/missing")) return json(200, { missing: JSON.parse(req.body as string).digests });
        if (url.pathname.includes("/blocks/")) {
          blocks.set(url.pathname.split("/").at(-1)!, req.body as Uint8Array);
          return json(200, {});
        }
        if (url.pathname.endsWith("/commit")) {
          for (const c of JSON.parse(req.body as string).changes) {
            const parts = (c.entry.blocks as string[]).map((d) => blocks.get(d)!);
            files.set(c.path, new Uint8Array(Buffer.concat(parts)));
          }
          return json(200, { version: 1 });
        }
        const file = files.get(url.searchParams.get("path") ?? "");
        if (url.pathname.endsWith("/file")) return file ? { status: 200, body: file, contentType: "application/octet-stream" } : json(404, { error: { type: "NotFoundError", message: "file nope not found" } });
        return json(404, { error: { type: "NotFoundError", message: "no route" } });
      },
    };
    Object.defineProperty(globalThis, API_TRANSPORT, { value: transport, configurable: true });
    Object.assign(process.env, { FERRY_URL: "", FERRY_TOKEN: "", FERRY_HOME: "/nonexistent" });
    return seen;
  };
  const ALL_BYTES = Uint8Array.from({ length: 5 * 1024 * 1024 }, (_, i) => (i * 7) % 256);

  it("vol.write sends its blocks as bytes through the transport and vol.read gets them back", async () => {
    const seen = installVolumeApi();
    const vol = Volume.fromName("v");
    expect(await vol.write("data/all.bin", ALL_BYTES)).toEqual({ version: 1 });
    const puts = seen.filter((r) => r.method === "PUT");
    // 5 MiB in 4 MiB blocks: two uploads, each a Uint8Array, never text.
    expect(puts.map((r) => (r.body as Uint8Array).byteLength)).toEqual([4 * 1024 * 1024, 1024 * 1024]);
    expect(puts.every((r) => r.body instanceof Uint8Array)).toBe(true);
    const back = await vol.read("/data/all.bin");
    expect(Buffer.from(back).equals(Buffer.from(ALL_BYTES))).toBe(true);
  });

  it("vol.read of a missing file is a 404 FerryApiError", async () => {
    installVolumeApi();
    const e = await Volume.fromName("v").read("nope").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FerryApiError);
    expect(e).toMatchObject({ status: 404, message: "file nope not found" });
  });

  it("a runner whose transport carries only text refuses bytes with a clear error, sending nothing", async () => {
    const seen = installVolumeApi({ bytes: false });
    await expect(Volume.fromName("v").read("a.bin")).rejects.toThrow(/carries only JSON through its API bridge, not bytes/);
    expect(seen).toEqual([]);
  });
});
