import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Effect } from "effect";
import { Limits } from "@ferry/core";
import { startEdgeServer } from "../src/node-server.ts";
import { makeEdgeApp } from "../src/edge-app.ts";
import { TOKEN_CACHE_MS } from "../src/auth/bearer-auth.ts";

/**
 * The public `/v1` HTTP API against a real edge: a real libSQL file, a real HTTP server on a free
 * loopback port, real fetch. No region is running, so a request that passes validation, auth and
 * ownership ends in 503 "no region is up".
 */

type Edge = Awaited<ReturnType<typeof startEdgeServer>>;

let dir: string;
let edge: Edge;
let tokenA: string;
let tokenB: string;

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const BUNDLE = b64("export const f = async (x) => x * 2;\n");

const deployBody = (overrides: Record<string, unknown> = {}) => ({
  name: "demo",
  mode: "deployed",
  bundle: BUNDLE,
  functions: [{ name: "f", options: {} }],
  ...overrides,
});

interface ApiResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: any;
}

const api = async (method: string, path: string, opts: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiResult> => {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${edge.url}${path}`, { method, headers, body });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
};

const newToken = async (workspaceName: string, name = "t"): Promise<{ id: string; secret: string }> => {
  const ws = await Effect.runPromise(edge.storage.ensureWorkspace(workspaceName));
  const { token, secret } = await Effect.runPromise(edge.storage.createToken(ws.id, name));
  return { id: token.id, secret };
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ferry-edge-api-"));
  edge = await startEdgeServer({ host: "127.0.0.1", port: 0, databaseUrl: `file:${join(dir, "state.db")}`, internalToken: "x" });
  tokenA = (await newToken("a")).secret;
  tokenB = (await newToken("b")).secret;
});

afterAll(async () => {
  await edge?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("authentication (401)", () => {
  it("a request with no Authorization header gets 401 UnauthorizedError", async () => {
    const r = await api("GET", "/v1/apps");
    expect(r.status).toBe(401);
    expect(r.json.error.type).toBe("UnauthorizedError");
  });

  it("a malformed Authorization header gets 401", async () => {
    for (const value of ["Basic dXNlcjpwYXNz", "Bearer", `Bearer ${tokenA}x`, `Bearer fry_${"g".repeat(48)}`, tokenA, `Token ${tokenA}`]) {
      const r = await api("GET", "/v1/apps", { headers: { authorization: value } });
      expect(r.status, value).toBe(401);
      expect(r.json.error.type).toBe("UnauthorizedError");
    }
  });

  it("a well-formed token that was never issued gets 401", async () => {
    const r = await api("GET", "/v1/apps", { token: `fry_${randomBytes(24).toString("hex")}` });
    expect(r.status).toBe(401);
    expect(r.json.error.type).toBe("UnauthorizedError");
    expect(r.json.error.message).toMatch(/unknown or revoked/);
  });

  it("a token revoked before its first use gets 401", async () => {
    const victim = await newToken("a", "victim");
    const del = await api("DELETE", `/v1/tokens/${victim.id}`, { token: tokenA });
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ revoked: true });
    const r = await api("GET", "/v1/apps", { token: victim.secret });
    expect(r.status).toBe(401);
  });

  it("a token in use stops working at most TOKEN_CACHE_MS after it is revoked", async () => {
    const victim = await newToken("a", "used");
    expect((await api("GET", "/v1/apps", { token: victim.secret })).status).toBe(200);
    expect((await api("DELETE", `/v1/tokens/${victim.id}`, { token: tokenA })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, TOKEN_CACHE_MS + 200));
    expect((await api("GET", "/v1/apps", { token: victim.secret })).status).toBe(401);
  });

  it("revoking a token twice, or another workspace's token, gets 404", async () => {
    const t = await newToken("a", "twice");
    expect((await api("DELETE", `/v1/tokens/${t.id}`, { token: tokenA })).status).toBe(200);
    expect((await api("DELETE", `/v1/tokens/${t.id}`, { token: tokenA })).status).toBe(404);
    const other = await newToken("a", "others");
    const r = await api("DELETE", `/v1/tokens/${other.id}`, { token: tokenB });
    expect(r.status).toBe(404);
    expect(r.json.error.type).toBe("NotFoundError");
    // Still live for its own workspace.
    expect((await api("GET", "/v1/apps", { token: other.secret })).status).toBe(200);
  });
});

describe("deploy validation (400 naming the field at fault)", () => {
  it("a body that is not JSON gets 400 with field `body`", async () => {
    const r = await api("POST", "/v1/apps", { token: tokenA, rawBody: "{not json" });
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe("ValidationError");
    expect(r.json.error.field).toBe("body");
  });

  it("timeout 0 gets 400 naming body.functions[0].options.timeout", async () => {
    const r = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ functions: [{ name: "f", options: { timeout: 0 } }] }) });
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe("body.functions[0].options.timeout");
    expect(r.json.error.message).toContain("body.functions[0].options.timeout");
  });

  it("a timeout above Limits.maxTimeoutS is refused too", async () => {
    const r = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ functions: [{ name: "f", options: { timeout: Limits.maxTimeoutS + 1 } }] }) });
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe("body.functions[0].options.timeout");
  });

  it("an invalid app name gets 400 naming body.name", async () => {
    for (const name of ["has space", "1starts-with-digit", "", "x".repeat(65), "dots.not.allowed"]) {
      const r = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name }) });
      expect(r.status, name).toBe(400);
      expect(r.json.error.field).toBe("body.name");
    }
  });

  it("two functions of the same name get 400 naming the second one", async () => {
    const r = await api("POST", "/v1/apps", {
      token: tokenA,
      body: deployBody({ functions: [{ name: "f", options: {} }, { name: "f", options: { cpu: 1 } }] }),
    });
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe("body.functions[1].name");
  });

  it("minContainers above maxContainers gets 400 naming minContainers", async () => {
    const r = await api("POST", "/v1/apps", {
      token: tokenA,
      body: deployBody({ functions: [{ name: "f", options: { minContainers: 5, maxContainers: 2 } }] }),
    });
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe("body.functions[0].options.minContainers");
  });

  it("an empty or non-base64 bundle gets 400 naming body.bundle", async () => {
    for (const bundle of ["", "not base64!", "%%%%"]) {
      const r = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ bundle }) });
      expect(r.status, JSON.stringify(bundle)).toBe(400);
      expect(r.json.error.field).toBe("body.bundle");
    }
  });

  it("an unknown mode, or no functions at all, is refused with the field", async () => {
    const mode = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ mode: "forever" }) });
    expect(mode.status).toBe(400);
    expect(mode.json.error.field).toBe("body.mode");
    const none = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ functions: [] }) });
    expect(none.status).toBe(400);
    expect(none.json.error.field).toBe("body.functions");
  });

  it("a refused deploy creates no app", async () => {
    await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name: "never", functions: [{ name: "f", options: { timeout: 0 } }] }) });
    const list = await api("GET", "/v1/apps", { token: tokenA });
    expect(list.json.apps.map((a: { name: string }) => a.name)).not.toContain("never");
  });
});

describe("deploy, list and lookup", () => {
  let appId: string;
  let fnId: string;

  beforeAll(async () => {
    const r = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name: "listed" }) });
    expect(r.status).toBe(201);
    appId = r.json.app.id;
    fnId = r.json.functions[0].id;
  });

  it("a valid deploy returns 201 with the app id and one id per function", async () => {
    const r = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name: "fresh", functions: [{ name: "f", options: {} }, { name: "g", options: { cpu: 1 } }] }) });
    expect(r.status).toBe(201);
    expect(r.json.app).toMatchObject({ name: "fresh", environment: "main", mode: "deployed" });
    expect(typeof r.json.app.id).toBe("string");
    expect(r.json.app.bundleHash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.json.functions.map((f: { name: string }) => f.name).sort()).toEqual(["f", "g"]);
    for (const f of r.json.functions) expect(typeof f.id).toBe("string");
  });

  it("GET /v1/apps lists the app for its own workspace only", async () => {
    const a = await api("GET", "/v1/apps", { token: tokenA });
    expect(a.status).toBe(200);
    const mine = a.json.apps.find((x: { id: string }) => x.id === appId);
    expect(mine).toMatchObject({ name: "listed", state: "running", mode: "deployed", functions: ["f"] });
    const b = await api("GET", "/v1/apps", { token: tokenB });
    expect(b.status).toBe(200);
    expect(b.json.apps.map((x: { id: string }) => x.id)).not.toContain(appId);
  });

  it("the token list never contains a secret", async () => {
    const created = await api("POST", "/v1/tokens", { token: tokenA, body: { name: "ci" } });
    expect(created.status).toBe(201);
    expect(created.json.token).toMatch(/^fry_[0-9a-f]{48}$/);
    const r = await api("GET", "/v1/tokens", { token: tokenA });
    expect(r.status).toBe(200);
    expect(r.json.tokens.length).toBeGreaterThanOrEqual(2);
    expect(r.json.tokens.map((t: { id: string }) => t.id)).toContain(created.json.id);
    expect(r.text).not.toContain("fry_");
    expect(r.text).not.toContain(created.json.token);
  });

  it("a token created through the API authenticates as its workspace", async () => {
    const created = await api("POST", "/v1/tokens", { token: tokenA, body: { name: "via-api" } });
    const r = await api("GET", "/v1/apps", { token: created.json.token });
    expect(r.status).toBe(200);
    expect(r.json.apps.map((x: { id: string }) => x.id)).toContain(appId);
  });

  it("GET /v1/functions/lookup finds the function by app and name", async () => {
    const r = await api("GET", "/v1/functions/lookup?app=listed&name=f", { token: tokenA });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ id: fnId, name: "f", app: { id: appId, name: "listed" }, options: {} });
  });

  it("lookup of a function the app does not have gets 404", async () => {
    const r = await api("GET", "/v1/functions/lookup?app=listed&name=nope", { token: tokenA });
    expect(r.status).toBe(404);
    expect(r.json.error.type).toBe("NotFoundError");
  });

  it("redeploying keeps the function id", async () => {
    const r = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name: "listed", functions: [{ name: "f", options: { cpu: 2 } }] }) });
    expect(r.status).toBe(201);
    expect(r.json.app.id).toBe(appId);
    expect(r.json.functions).toEqual([{ id: fnId, name: "f" }]);
  });

  it("a call that passes every check gets 503 because no region is up", async () => {
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs: [[1]] } });
    expect(r.status).toBe(503);
    expect(r.json.error.type).toBe("UnavailableError");
    expect(r.json.error.message).toMatch(/no region is up/);
  });
});

describe("ownership across workspaces (404)", () => {
  let fnIdA: string;

  beforeAll(async () => {
    const r = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name: "private" }) });
    expect(r.status).toBe(201);
    fnIdA = r.json.functions[0].id;
  });

  it("a token of another workspace gets 404 calling a function it does not own", async () => {
    const r = await api("POST", `/v1/functions/${fnIdA}/calls`, { token: tokenB, body: { inputs: [[1]] } });
    expect(r.status).toBe(404);
    expect(r.json.error.type).toBe("NotFoundError");
  });

  it("another workspace's function id and a made-up id answer alike", async () => {
    const foreign = await api("POST", `/v1/functions/${fnIdA}/calls`, { token: tokenB, body: { inputs: [[1]] } });
    const madeUp = await api("POST", "/v1/functions/fn-doesnotexist0000/calls", { token: tokenB, body: { inputs: [[1]] } });
    expect(foreign.status).toBe(404);
    expect(madeUp.status).toBe(404);
    expect(foreign.json.error.type).toBe(madeUp.json.error.type);
  });

  it("a token of another workspace cannot look the app up by name", async () => {
    const r = await api("GET", "/v1/functions/lookup?app=private&name=f", { token: tokenB });
    expect(r.status).toBe(404);
    expect(r.text).not.toContain(fnIdA);
  });

  it("a token of another workspace cannot stop the app, and it keeps running", async () => {
    const r = await api("POST", "/v1/apps/private/stop", { token: tokenB });
    expect(r.status).toBe(404);
    const list = await api("GET", "/v1/apps", { token: tokenA });
    expect(list.json.apps.find((a: { name: string }) => a.name === "private").state).toBe("running");
  });

  it("outputs, inputs and cancel of an unknown call id get 404", async () => {
    const outputs = await api("GET", "/v1/calls/fc-unknown000000000/outputs", { token: tokenB });
    expect(outputs.status).toBe(404);
    expect(outputs.json.error.type).toBe("NotFoundError");
    const inputs = await api("POST", "/v1/calls/fc-unknown000000000/inputs", { token: tokenB, body: { startIdx: 0, inputs: [[1]] } });
    expect(inputs.status).toBe(404);
    const cancel = await api("POST", "/v1/calls/fc-unknown000000000/cancel", { token: tokenB });
    expect(cancel.status).toBe(404);
  });

  it("another workspace's call id gets 404", async () => {
    const wsA = await Effect.runPromise(edge.storage.ensureWorkspace("a"));
    const callId = "fc-ownedbya000000";
    await Effect.runPromise(edge.storage.createCall({ id: callId, workspaceId: wsA.id, functionId: fnIdA, region: "us-east", createdAt: Date.now() }));
    const outputs = await api("GET", `/v1/calls/${callId}/outputs`, { token: tokenB });
    expect(outputs.status).toBe(404);
    // The owner passes the ownership check; its region is not up.
    const own = await api("GET", `/v1/calls/${callId}/outputs?waitMs=0`, { token: tokenA });
    expect(own.status).toBe(503);
  });
});

describe("stopped apps (409)", () => {
  it("calling a function of a stopped app gets 409 ConflictError", async () => {
    const d = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name: "stoppable" }) });
    expect(d.status).toBe(201);
    const fnId = d.json.functions[0].id;
    const stop = await api("POST", "/v1/apps/stoppable/stop", { token: tokenA });
    expect(stop.status).toBe(200);
    expect(stop.json).toMatchObject({ name: "stoppable", state: "stopped" });
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs: [[1]] } });
    expect(r.status).toBe(409);
    expect(r.json.error.type).toBe("ConflictError");
    expect(r.json.error.message).toMatch(/stopped/);
    const lookup = await api("GET", "/v1/functions/lookup?app=stoppable&name=f", { token: tokenA });
    expect(lookup.status).toBe(409);
  });

  it("deploying the app again makes it callable again within the edge's short function cache (same id, then 503 for want of a region)", async () => {
    const d = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name: "revived" }) });
    const fnId = d.json.functions[0].id;
    await api("POST", "/v1/apps/revived/stop", { token: tokenA });
    const call = () => api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs: [[1]] } });
    expect((await call()).status).toBe(409);
    const again = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name: "revived" }) });
    expect(again.status).toBe(201);
    expect(again.json.functions[0].id).toBe(fnId);
    // The edge may reuse a function row it read up to ~1 s ago (FUNCTION_CACHE_MS in call-routes.ts).
    const statuses = new Set<number>();
    const deadline = Date.now() + 3_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await call()).status;
      statuses.add(status);
      if (status !== 409) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(503);
    expect([...statuses].every((s) => s === 409 || s === 503)).toBe(true);
  });
});

describe("call bodies: sizes and shapes", () => {
  let fnId: string;

  beforeAll(async () => {
    const r = await api("POST", "/v1/apps", { token: tokenA, body: deployBody({ name: "sized" }) });
    fnId = r.json.functions[0].id;
  });

  it("inputs that are not an array get 400 naming body.inputs", async () => {
    for (const inputs of ["x", 1, { a: 1 }, null]) {
      const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs } });
      expect(r.status, JSON.stringify(inputs)).toBe(400);
      expect(r.json.error.field).toBe("body.inputs");
    }
    const missing = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.json.error.field).toBe("body.inputs");
  });

  it("a call body that is not JSON gets 400 with field body", async () => {
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, rawBody: "[1," });
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe("body");
  });

  it("a waitMs above Limits.maxWaitMs gets 400 naming body.waitMs", async () => {
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs: [[1]], waitMs: Limits.maxWaitMs + 1 } });
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe("body.waitMs");
  });

  it("a body over Limits.maxRequestBodyBytes gets 413 PayloadTooLargeError", async () => {
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs: ["x".repeat(Limits.maxRequestBodyBytes + 1)] } });
    expect(r.status).toBe(413);
    expect(r.json.error.type).toBe("PayloadTooLargeError");
    expect(r.json.error.message).toContain("maxRequestBodyBytes");
  });

  it("one input over Limits.maxInputBytes in a body under the body limit gets 413 naming maxInputBytes", async () => {
    const big = "x".repeat(Limits.maxInputBytes + 10);
    expect(big.length).toBeLessThan(Limits.maxRequestBodyBytes);
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs: [[1], [big]] } });
    expect(r.status).toBe(413);
    expect(r.json.error.type).toBe("PayloadTooLargeError");
    expect(r.json.error.message).toContain("maxInputBytes");
    expect(r.json.error.message).toMatch(/^input 1 /);
  });

  it("an input just under Limits.maxInputBytes passes the size check (503 for want of a region)", async () => {
    const ok = "x".repeat(Limits.maxInputBytes - 100);
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs: [[ok]] } });
    expect(r.status).toBe(503);
  });

  it("more than Limits.maxInputsPerRequest inputs get 400 naming body.inputs", async () => {
    const inputs = Array.from({ length: Limits.maxInputsPerRequest + 1 }, (_, i) => [i]);
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs } });
    expect(r.status).toBe(400);
    expect(r.json.error.field).toBe("body.inputs");
    expect(r.json.error.message).toContain("maxInputsPerRequest");
  });

  it("exactly Limits.maxInputsPerRequest inputs are accepted (503 for want of a region)", async () => {
    const inputs = Array.from({ length: Limits.maxInputsPerRequest }, (_, i) => [i]);
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { token: tokenA, body: { inputs } });
    expect(r.status).toBe(503);
  });

  it("an oversized body gets 413 even before authentication", async () => {
    const r = await api("POST", `/v1/functions/${fnId}/calls`, { body: { inputs: ["x".repeat(Limits.maxRequestBodyBytes + 1)] } });
    expect(r.status).toBe(413);
  });
});

describe("unauthenticated routes", () => {
  it("/v1/openapi.json is served without a token and documents the call route", async () => {
    const r = await api("GET", "/v1/openapi.json");
    expect(r.status).toBe(200);
    expect(r.json.openapi).toMatch(/^3\./);
    expect(Object.keys(r.json.paths)).toContain("/v1/functions/{id}/calls");
    expect(r.json.paths["/v1/functions/{id}/calls"].post.responses).toHaveProperty("413");
  });

  it("documents every /v1 route the edge serves, with each method", async () => {
    const doc = (await api("GET", "/v1/openapi.json")).json as { paths: Record<string, Record<string, unknown>> };
    const app = makeEdgeApp({ storage: edge.storage, internalToken: "x" });
    const served = app.routes
      .filter((r) => r.path.startsWith("/v1/") && r.method !== "ALL" && !r.path.includes("*"))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([A-Za-z]+)/g, "{$1}")}`);
    const undocumented = served.filter((route) => {
      const [method, path] = route.split(" ") as [string, string];
      return doc.paths[path]?.[method] === undefined && path !== "/v1/openapi.json";
    });
    expect(served.length).toBeGreaterThan(40);
    expect(undocumented).toEqual([]);
  });

  it("/v1/health answers 200 without a token", async () => {
    const r = await api("GET", "/v1/health");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: true });
  });

  it("an unknown route behind auth still requires a token", async () => {
    expect((await api("GET", "/v1/nope")).status).toBe(401);
    const r = await api("GET", "/v1/nope", { token: tokenA });
    expect(r.status).toBe(404);
  });
});
