import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { FerryClient, Function, setClientConfig } from "ferry";
import { deployFile, type DeployedFile } from "../../sdk/src/cli/deploy-file.ts";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";
import { waitFor } from "../fixtures/wait-for.ts";
import { EDGE_RUNTIMES, startEdge, type EdgeRuntime, type RunningEdge } from "./edge-runtimes.ts";

/**
 * One list of edge cases, run against the edge started under each runtime (Node, Bun, Deno, and
 * workerd via `wrangler dev --local`), each edge's platform state being a real region's
 * SQL-over-HTTP endpoint of one real local platform.
 */

const CONFORMANCE_APP = join(REPO_ROOT, "test/conformance/apps/conformance-app.ts");
const CONFORMANCE_WEB_APP = join(REPO_ROOT, "test/conformance/apps/conformance-web-app.ts");

let t: TestPlatform;
const edges = new Map<EdgeRuntime, RunningEdge>();
const deployed: DeployedFile[] = [];

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  const target = { databaseUrl: t.platform.regionUrl, databaseToken: t.platform.internalToken, internalToken: t.platform.internalToken };
  const started = await Promise.allSettled(EDGE_RUNTIMES.map((r) => startEdge(r, target)));
  for (const s of started) if (s.status === "fulfilled") edges.set(s.value.runtime, s.value);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
}, 120_000);

afterAll(async () => {
  setClientConfig(undefined);
  for (const d of deployed) await d.dispose();
  await Promise.all([...edges.values()].map((e) => e.stop()));
  await t?.stop();
});

describe.each(EDGE_RUNTIMES)("the edge on %s", (runtime) => {
  const edge = () => edges.get(runtime)!;
  const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    const token = init.token === undefined ? t.platform.token : init.token;
    if (token !== null) headers.set("authorization", `Bearer ${token}`);
    if (init.body !== undefined) headers.set("content-type", "application/json");
    return fetch(`${edge().url}${path}`, { ...init, headers });
  };

  it("answers its health check", async () => {
    const res = await api("/v1/health", { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("refuses a request without a token, or with an unknown one, with 401", async () => {
    const none = await api("/v1/apps", { token: null });
    expect(none.status).toBe(401);
    expect((await none.json()).error).toMatchObject({ type: "UnauthorizedError", message: expect.stringContaining("missing or malformed bearer token") });
    const unknown = await api("/v1/apps", { token: `fry_${"0".repeat(48)}` });
    expect(unknown.status).toBe(401);
    expect((await unknown.json()).error).toEqual({ type: "UnauthorizedError", message: "unknown or revoked token" });
  });

  it("creates a token that works, lists it, and revokes it", async () => {
    const created = await api("/v1/tokens", { method: "POST", body: JSON.stringify({ name: `conf-${runtime}` }) });
    expect(created.status).toBe(201);
    const { id, token } = await created.json() as { id: string; token: string };
    expect(token).toMatch(/^fry_[0-9a-f]{48}$/);
    expect((await api("/v1/apps", { token })).status).toBe(200);
    const listed = await (await api("/v1/tokens")).json() as { tokens: Array<{ id: string; name: string; revokedAt: number | null }> };
    expect(listed.tokens.find((x) => x.id === id)).toMatchObject({ name: `conf-${runtime}`, revokedAt: null });
    const revoked = await api(`/v1/tokens/${id}`, { method: "DELETE" });
    expect(await revoked.json()).toEqual({ revoked: true });
    // Resolved tokens are cached briefly (TOKEN_CACHE_MS): the revocation takes hold within it.
    await waitFor("the revoked token to be refused", async () => ((await api("/v1/apps", { token })).status === 401 ? true : undefined), 10_000);
  });

  it("deploys an app through the SDK's deploy path and calls its function", async () => {
    const client = new FerryClient({ url: edge().url, token: t.platform.token });
    const d = await deployFile(client, CONFORMANCE_APP, { mode: "deployed", environment: runtime });
    deployed.push(d);
    expect(d.response.app).toMatchObject({ name: "conformance", environment: runtime, mode: "deployed" });
    expect(d.response.functions.map((f) => f.name).sort()).toEqual(["fail", "greet", "square"]);
    setClientConfig({ url: edge().url, token: t.platform.token });
    const square = await Function.lookup<[number], number>("conformance", "square", { environment: runtime });
    expect(await square.remote(7)).toBe(49);
    const greet = await Function.lookup<[string], string>("conformance", "greet", { environment: runtime });
    expect(await greet.remote(runtime)).toBe(`hello ${runtime}`);
  });

  it("serves a deployed web endpoint: method, query, body and headers round-trip", async () => {
    const client = new FerryClient({ url: edge().url, token: t.platform.token });
    const d = await deployFile(client, CONFORMANCE_WEB_APP, { mode: "deployed" });
    deployed.push(d);
    const res = await fetch(`${edge().url}/default/conformance-web/echo/?q=${runtime}`, { method: "POST", body: `from ${runtime}` });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-handler")).toBe("echo");
    expect(await res.json()).toEqual({ method: "POST", q: runtime, body: `from ${runtime}` });
  });

  it("answers an unknown route and an unknown app with the 404 error shape", async () => {
    const route = await api("/v1/no-such-route");
    expect(route.status).toBe(404);
    expect(await route.json()).toEqual({ error: { type: "NotFoundError", message: "no route GET /v1/no-such-route" } });
    const app = await api("/v1/apps/no-such-app");
    expect(app.status).toBe(404);
    expect((await app.json()).error).toMatchObject({ type: "NotFoundError" });
  });

  it("serves the OpenAPI document", async () => {
    const res = await api("/v1/openapi.json", { token: null });
    expect(res.status).toBe(200);
    const doc = await res.json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/apps", "/v1/tokens"]));
  });
});
