import { describe, expect, it } from "vitest";
import { DEFAULT_EDGE_PORT, readEdgeConfig } from "../src/entries/edge-config.ts";
import worker from "../src/entries/workerd.ts";

/** What every edge entry reads from its environment, and how the Worker answers when it cannot reach state. */

describe("readEdgeConfig", () => {
  it("reads the database, its token, the internal token, host and port", () => {
    expect(readEdgeConfig({ DATABASE_URL: "http://127.0.0.1:7001", DATABASE_TOKEN: "t", INTERNAL_TOKEN: "i", HOST: "0.0.0.0", PORT: "9000" }))
      .toEqual({ databaseUrl: "http://127.0.0.1:7001", databaseToken: "t", internalToken: "i", host: "0.0.0.0", port: 9000 });
  });

  it("defaults to loopback, DEFAULT_EDGE_PORT and no database token", () => {
    expect(readEdgeConfig({ DATABASE_URL: "libsql://db.example", INTERNAL_TOKEN: "i" }))
      .toEqual({ databaseUrl: "libsql://db.example", databaseToken: undefined, internalToken: "i", host: "127.0.0.1", port: DEFAULT_EDGE_PORT });
  });

  it("names the variable to set when one is missing, and refuses a bad port", () => {
    expect(() => readEdgeConfig({ INTERNAL_TOKEN: "i" })).toThrow("the edge needs DATABASE_URL: set it in the environment");
    expect(() => readEdgeConfig({ DATABASE_URL: "http://x", INTERNAL_TOKEN: "" })).toThrow("the edge needs INTERNAL_TOKEN");
    expect(() => readEdgeConfig({ DATABASE_URL: "http://x", INTERNAL_TOKEN: "i", PORT: "http" })).toThrow('PORT must be an integer 0-65535, got "http"');
  });
});

describe("the Worker entry", () => {
  it("answers 503 UnavailableError when the platform state cannot be reached", async () => {
    const res = await worker.fetch(new Request("http://edge/v1/health"), { DATABASE_URL: "http://127.0.0.1:1", INTERNAL_TOKEN: "i" });
    expect(res.status).toBe(503);
    const body = await res.json() as { error: { type: string; message: string } };
    expect(body.error.type).toBe("UnavailableError");
    expect(body.error.message).toContain("platform state unreachable at DATABASE_URL");
  });

  it("answers 500 naming the bindings to set when they are missing", async () => {
    const res = await worker.fetch(new Request("http://edge/v1/health"), { DATABASE_URL: "", INTERNAL_TOKEN: "" });
    expect(res.status).toBe(500);
    expect((await res.json() as { error: { message: string } }).error.message).toContain("the edge needs DATABASE_URL and INTERNAL_TOKEN bindings");
  });

  it("refuses a file: database, which a Worker cannot open", async () => {
    const res = await worker.fetch(new Request("http://edge/v1/health"), { DATABASE_URL: "file:/tmp/state.db", INTERNAL_TOKEN: "i" });
    expect(res.status).toBe(503);
    expect((await res.json() as { error: { message: string } }).error.message).toContain("needs a libsql://, https:// or http:// URL");
  });
});
