import { afterEach, describe, expect, it } from "vitest";
import { FerryApiError, FerryClient } from "../src/index.ts";
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
