import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox, type ContainerProcess } from "ferry";
import { DEFAULT_SLIRP4NETNS_PATH } from "../../gpu-agent/src/sandbox/index.ts";
import type { DeployedFile } from "../../sdk/src/cli/deploy-file.ts";
import { REPO_ROOT, startTestPlatform, type TestPlatform } from "../fixtures/platform.ts";

const NETWORK_APP = join(REPO_ROOT, "test/fixtures/apps/network-app.ts");
type Probe = { remote(urls: string[], sockets: string[]): Promise<Record<string, string>> };

/** The first IPv4 address of this machine that is not loopback: where a container can route to. */
const hostAddress = Object.values(networkInterfaces()).flat().find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;
const skipWhy = !existsSync(DEFAULT_SLIRP4NETNS_PATH) ? "slirp4netns is not installed (apt-get install -y slirp4netns)"
  : process.getuid?.() !== 0 ? "the agent must run as root for outbound network"
  : hostAddress === undefined ? "this machine has no non-loopback IPv4 address" : "";
if (skipWhy !== "") console.log(`network e2e tests skipped: ${skipWhy}`);

describe.skipIf(skipWhy !== "")("network: outbound by default, none on request, the platform never", () => {
  let t: TestPlatform;
  let deployed: DeployedFile;
  let fns: { outbound: Probe; offline: Probe };
  let server: Server;
  let url = "";
  /** The platform's own services: NATS and the edge, on the host's loopback (and their ports on the host's address). */
  let platformTargets: string[] = [];
  const sandboxes: Sandbox[] = [];

  beforeAll(async () => {
    server = createServer((_req, res) => res.end("hello from the host"));
    await new Promise<void>((resolve) => server.listen(0, hostAddress, resolve));
    url = `http://${hostAddress}:${(server.address() as { port: number }).port}/`;
    t = await startTestPlatform({ agents: 1 });
    deployed = await t.deploy(NETWORK_APP);
    const handles = Object.fromEntries(deployed.discovered.functions.map((f) => [f.name, f.handle]));
    fns = handles as unknown as typeof fns;
    const natsPort = new URL(t.platform.natsUrl.replace("nats://", "http://")).port;
    const edgePort = new URL(t.platform.url).port;
    platformTargets = [natsPort, edgePort].flatMap((port) => [`127.0.0.1:${port}`, `10.0.2.2:${port}`, `${hostAddress}:${port}`]);
  });
  afterAll(async () => {
    for (const sb of sandboxes) await sb.terminate().catch(() => undefined);
    await t?.stop();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  /** Every platform target failed to connect. */
  const expectPlatformUnreachable = (out: Record<string, string>): void => {
    for (const target of platformTargets) expect(out[target], target).toMatch(/^failed: /);
  };

  it("a function with default options fetches from a server on the host's address, but reaches no platform service", async () => {
    const out = await fns.outbound.remote([url], platformTargets);
    expect(out[url]).toBe("OK hello from the host");
    expectPlatformUnreachable(out);
  });

  it("a function with network: \"none\" reaches nothing", async () => {
    const out = await fns.offline.remote([url], platformTargets);
    expect(out[url]).toMatch(/^failed: /);
    expectPlatformUnreachable(out);
  });

  /** Runs the same probe as a command in `sb`. */
  const probeIn = async (sb: Sandbox): Promise<Record<string, string>> => {
    const script = `
      const net = require('net');
      const out = {};
      (async () => {
        for (const url of ${JSON.stringify([url])}) {
          try { out[url] = 'OK ' + await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text(); }
          catch (e) { out[url] = 'failed: ' + (e.cause?.code ?? e.name); }
        }
        for (const target of ${JSON.stringify(platformTargets)}) {
          const [host, port] = target.split(':');
          out[target] = await new Promise((resolve) => {
            const s = net.connect({ host, port: Number(port), timeout: 2000 }, () => { s.destroy(); resolve('connected'); });
            s.on('timeout', () => { s.destroy(); resolve('failed: timeout'); });
            s.on('error', (e) => resolve('failed: ' + e.code));
          });
        }
        console.log(JSON.stringify(out));
      })();
    `;
    const p: ContainerProcess = await sb.exec(["node", "-e", script]);
    const [stdout, stderr, code] = await Promise.all([p.stdout.readText(), p.stderr.readText(), p.wait()]);
    expect(code, stderr).toBe(0);
    return JSON.parse(stdout) as Record<string, string>;
  };

  it("a Sandbox has outbound network by default, and none with network: \"none\"; neither reaches the platform", async () => {
    const [online, offline] = await Promise.all([
      Sandbox.create({ app: deployed.response.app.id }),
      Sandbox.create({ app: deployed.response.app.id, network: "none" }),
    ]);
    sandboxes.push(online, offline);
    const on = await probeIn(online);
    expect(on[url]).toBe("OK hello from the host");
    expectPlatformUnreachable(on);
    const off = await probeIn(offline);
    expect(off[url]).toMatch(/^failed: /);
    expectPlatformUnreachable(off);
  });

  it("a shell on a function (ferry shell's sandbox) gets the function's network", async () => {
    const offlineFn = deployed.response.functions.find((f) => f.name === "offline");
    expect(offlineFn).toBeDefined();
    const sb = await Sandbox.create({ app: deployed.response.app.id, functionId: offlineFn?.id });
    sandboxes.push(sb);
    expect((await probeIn(sb))[url]).toMatch(/^failed: /);
  });
});
