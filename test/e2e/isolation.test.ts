import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, useBasicApp } from "../fixtures/platform.ts";

const ctx = useBasicApp({ agents: 1 });

const portOf = (url: string) => Number(new URL(url.replace("nats://", "http://")).port);

describe("user code is isolated from the host and the platform", () => {
  it("cannot read host files outside the image", async () => {
    const marker = join(tmpdir(), `ferry-secret-${process.pid}`);
    writeFileSync(marker, "host secret");
    for (const path of ["/etc/shadow", join(REPO_ROOT, "package.json"), marker, "/root/.bashrc", `/proc/${process.pid}/environ`]) {
      await expect(ctx.fns.readHost.remote(path), path).rejects.toThrow(/ENOENT|EACCES|EPERM/);
    }
  });

  it("sees the image's files, read-only", async () => {
    expect(await ctx.fns.readHost.remote("/etc/passwd")).toMatch(/^ferry:x:1000:1000:/);
  });

  it("cannot connect to NATS, the region's gRPC port, the edge, or any host loopback port", async () => {
    const server: Server = createServer((s) => s.end("hi"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const hostPort = (server.address() as { port: number }).port;
    try {
      const ports = [portOf(ctx.t.platform.natsUrl), Number(ctx.t.platform.regionAddress.split(":")[1]), portOf(ctx.t.platform.url), hostPort];
      for (const port of ports) {
        expect(await ctx.fns.connectTo.remote(port), `port ${port}`).toMatch(/^refused: (ECONNREFUSED|ENETUNREACH|EHOSTUNREACH)/);
      }
    } finally {
      server.close();
    }
  });

  it("runs in its own pid namespace as an unprivileged user", async () => {
    const who = await ctx.fns.whoami.remote();
    expect(who.pid).toBeLessThan(10);
    expect(who.uid).toBe(1000);
  });
});
