import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASIC_APP, basicHandles, REPO_ROOT, startTestPlatform, type BasicApp, type TestPlatform } from "../fixtures/platform.ts";

let t: TestPlatform;
let fns: BasicApp;

beforeAll(async () => {
  t = await startTestPlatform({ agents: 1 });
  fns = basicHandles(await t.deploy(BASIC_APP));
});
afterAll(() => t?.stop());

const portOf = (url: string) => Number(new URL(url.replace("nats://", "http://")).port);

describe("user code is isolated from the host and the platform", () => {
  it("cannot read host files outside the image", async () => {
    const marker = join(tmpdir(), `ferry-secret-${process.pid}`);
    writeFileSync(marker, "host secret");
    for (const path of ["/etc/shadow", join(REPO_ROOT, "package.json"), marker, "/root/.bashrc", `/proc/${process.pid}/environ`]) {
      await expect(fns.readHost.remote(path), path).rejects.toThrow(/ENOENT|EACCES|EPERM/);
    }
  });

  it("sees the image's files, read-only", async () => {
    expect(await fns.readHost.remote("/etc/passwd")).toMatch(/^ferry:x:1000:1000:/);
  });

  it("cannot connect to NATS, the region's gRPC port, the edge, or any host loopback port", async () => {
    const server: Server = createServer((s) => s.end("hi"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const hostPort = (server.address() as { port: number }).port;
    try {
      const ports = [portOf(t.platform.natsUrl), Number(t.platform.regionAddress.split(":")[1]), portOf(t.platform.url), hostPort];
      for (const port of ports) {
        expect(await fns.connectTo.remote(port), `port ${port}`).toMatch(/^refused: (ECONNREFUSED|ENETUNREACH|EHOSTUNREACH)/);
      }
    } finally {
      server.close();
    }
  });

  it("runs in its own pid namespace as an unprivileged user", async () => {
    const who = await fns.whoami.remote();
    expect(who.pid).toBeLessThan(10);
  });
});
