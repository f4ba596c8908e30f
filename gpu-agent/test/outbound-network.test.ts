import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { networkInterfaces, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  DEFAULT_SLIRP4NETNS_PATH,
  OUTBOUND_RESOLV_CONF,
  SANDBOX_NODE_DIR,
  assertOutboundNetworkAvailable,
  buildBwrapArgs,
  defaultNodeImageBinds,
  slirp4netnsArgs,
  startSandbox,
  type SandboxNetwork,
  type SandboxSpec,
} from "../src/sandbox/index.ts";

const NODE = `${SANDBOX_NODE_DIR}/node`;
let counter = 0;
const nextId = (): string => `net${process.pid}-${++counter}`;

describe("outbound network arguments (pure)", () => {
  const base: SandboxSpec = {
    id: "ct-net",
    rootfs: [{ hostPath: "/usr", sandboxPath: "/usr" }, { hostPath: "/etc/resolv.conf", sandboxPath: "/etc/resolv.conf" }],
    readOnlyBinds: [{ hostPath: "/srv/app", sandboxPath: "/opt/ferry/app" }],
    readWriteBinds: [{ hostPath: "/srv/vol", sandboxPath: "/data" }],
    argv: ["/opt/ferry/node/node"],
    network: "outbound",
  };

  it("slirp4netns configures tap0, refuses the host's loopback, runs confined and stays in the agent's user namespace", () => {
    expect(slirp4netnsArgs(4242, { readyFd: 3, exitFd: 4 })).toEqual([
      "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp",
      "--userns-path=/proc/self/ns/user", "--ready-fd=3", "--exit-fd=4", "4242", "tap0",
    ]);
    expect(() => slirp4netnsArgs(0, { readyFd: 3, exitFd: 4 })).toThrow(TypeError);
    expect(() => slirp4netnsArgs(1.5, { readyFd: 3, exitFd: 4 })).toThrow(TypeError);
  });

  it("an outbound sandbox keeps its own network namespace and gets slirp's DNS as its resolv.conf, over the image's", () => {
    const args = buildBwrapArgs(base, { infoFd: 5, blockFd: 6, resolvConfFd: 7 });
    expect(args).toContain("--unshare-net");
    expect(args).not.toContain("--share-net");
    const at = args.indexOf("--ro-bind-data");
    expect(args.slice(at, at + 3)).toEqual(["--ro-bind-data", "7", "/etc/resolv.conf"]);
    // After every bind (the image's resolv.conf included), before the root is frozen.
    const lastBind = Math.max(...args.map((a, i) => (["--ro-bind", "--bind"].includes(a) ? i : -1)));
    expect(at).toBeGreaterThan(lastBind);
    expect(at).toBeLessThan(args.indexOf("--remount-ro"));
    expect(OUTBOUND_RESOLV_CONF).toBe("nameserver 10.0.2.3\n");
  });

  it("\"none\" gets no resolv.conf of its own, and an unknown mode is refused", () => {
    expect(buildBwrapArgs({ ...base, network: "none" }, { resolvConfFd: 7 })).not.toContain("--ro-bind-data");
    expect(() => buildBwrapArgs({ ...base, network: "host" as SandboxNetwork })).toThrow(/unknown network mode "host"/);
  });

  it("a host without slirp4netns fails an outbound start, naming the package, before creating anything", async () => {
    const missing = "/nonexistent/slirp4netns";
    expect(() => assertOutboundNetworkAvailable({ slirp4netnsPath: missing })).toThrow(/apt-get install -y slirp4netns/);
    const rootfs = defaultNodeImageBinds(dirname(process.execPath));
    expect(() => startSandbox({ id: nextId(), rootfs, argv: [NODE, "-e", "1"], network: "outbound" }, { slirp4netnsPath: missing }))
      .toThrow(/network "outbound" needs slirp4netns/);
    // "none" needs no slirp4netns at all.
    expect((await startSandbox({ id: nextId(), rootfs, argv: ["/bin/true"], network: "none" }, { slirp4netnsPath: missing }).exited).code).toBe(0);
  });
});

/** The first IPv4 address of this machine that is not loopback (where a sandbox could route to). */
const hostAddress = (): string | undefined =>
  Object.values(networkInterfaces()).flat().find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;

const canRun = existsSync(DEFAULT_SLIRP4NETNS_PATH) && process.getuid?.() === 0;
const address = hostAddress();
const skipWhy = !canRun ? "slirp4netns missing or not root" : address === undefined ? "this machine has no non-loopback IPv4 address" : "";
if (skipWhy !== "") console.log(`outbound network tests skipped: ${skipWhy}`);

/** slirp4netns processes this test process started (the launcher runs in this process). */
const ourSlirps = (): number[] =>
  readdirSync("/proc").filter((n) => /^\d+$/.test(n)).filter((n) => {
    try {
      const stat = readFileSync(`/proc/${n}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      return stat.includes("(slirp4netns)") && ppid === process.pid;
    } catch {
      return false;
    }
  }).map(Number);

describe.skipIf(skipWhy !== "")("outbound network (real bubblewrap and slirp4netns)", () => {
  const rootfs = defaultNodeImageBinds(dirname(process.execPath));
  let outside: Server;
  let loopback: Server;
  let outsidePort = 0;
  let loopbackPort = 0;

  const listen = async (host: string, body: string): Promise<{ server: Server; port: number }> => {
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    const a = server.address();
    return { server, port: typeof a === "object" && a !== null ? a.port : 0 };
  };

  beforeAll(async () => {
    ({ server: outside, port: outsidePort } = await listen(address ?? "", "hello from the host address"));
    ({ server: loopback, port: loopbackPort } = await listen("127.0.0.1", "platform secret"));
  });
  afterAll(async () => {
    outside.closeAllConnections();
    loopback.closeAllConnections();
    await Promise.all([outside, loopback].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  /** Runs a probe fetching each URL (2 s each) inside a sandbox; returns what each gave. */
  const probe = async (network: SandboxNetwork): Promise<Record<string, string>> => {
    const targets = {
      hostAddress: `http://${address}:${outsidePort}/`,
      loopback: `http://127.0.0.1:${loopbackPort}/`,
      slirpGatewayToLoopback: `http://10.0.2.2:${loopbackPort}/`,
    };
    const script = `
      const targets = ${JSON.stringify(targets)};
      const out = { resolv: require('fs').readFileSync('/etc/resolv.conf', 'utf8'), ifaces: Object.keys(require('os').networkInterfaces()).sort().join(',') };
      (async () => {
        for (const [name, url] of Object.entries(targets)) {
          try { out[name] = 'OK ' + await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text(); }
          catch (e) { out[name] = 'failed: ' + (e.cause?.code ?? e.name); }
        }
        console.log(JSON.stringify(out));
      })();
    `;
    const sb = startSandbox({ id: nextId(), rootfs, argv: [NODE, "-e", script], network });
    let stdout = "";
    let stderr = "";
    sb.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    sb.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exit = await sb.exited;
    expect(exit.error).toBeUndefined();
    expect(exit.code, stderr).toBe(0);
    return JSON.parse(stdout) as Record<string, string>;
  };

  it("\"outbound\" reaches a server on the host's address, but not the host's loopback, directly or through 10.0.2.2", async () => {
    const out = await probe("outbound");
    expect(out.hostAddress).toBe("OK hello from the host address");
    // 127.0.0.1 inside is the sandbox's own loopback; 10.0.2.2 would be the host's, and is refused.
    expect(out.loopback).toMatch(/^failed/);
    expect(out.slirpGatewayToLoopback).toMatch(/^failed/);
    expect(out.resolv).toBe("nameserver 10.0.2.3\n");
    expect(out.ifaces).toBe("lo,tap0");
    // Its network stack ended with it.
    expect(ourSlirps()).toEqual([]);
  });

  it("\"none\" reaches neither", async () => {
    const out = await probe("none");
    expect(out.hostAddress).toMatch(/^failed/);
    expect(out.loopback).toMatch(/^failed/);
    expect(out.slirpGatewayToLoopback).toMatch(/^failed/);
    expect(out.ifaces).toBe("lo");
    expect(out.resolv).not.toContain("10.0.2.3");
  });

  it("when the network stack cannot start, the command never runs and the exit says why", async () => {
    // A stand-in slirp4netns that fails as the real one does (a message, exit status 1).
    const dir = mkdtempSync(join(tmpdir(), "ferry-fake-slirp-"));
    const fake = join(dir, "slirp4netns");
    writeFileSync(fake, "#!/bin/sh\necho 'setns(CLONE_NEWNET): Operation not permitted' >&2\nexit 1\n", { mode: 0o755 });
    try {
      const sb = startSandbox({ id: nextId(), rootfs, argv: ["/bin/echo", "the command ran"], network: "outbound" }, { slirp4netnsPath: fake });
      let stdout = "";
      sb.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      const exit = await sb.exited;
      expect(stdout).toBe("");
      expect(exit.code).not.toBe(0);
      expect(exit.error?.message).toMatch(/slirp4netns exited before the network was up \(code 1\) \(setns\(CLONE_NEWNET\): Operation not permitted\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("killing an outbound sandbox while it starts leaves no network stack behind", async () => {
    for (let i = 0; i < 5; i++) {
      const sb = startSandbox({ id: nextId(), rootfs, argv: [NODE, "-e", "setInterval(() => {}, 1000)"], network: "outbound" });
      if (i % 2 === 1) await new Promise((resolve) => setTimeout(resolve, 10 * i));
      sb.kill();
      const exit = await sb.exited;
      expect(exit.error).toBeUndefined();
    }
    expect(ourSlirps()).toEqual([]);
  });

  it("start-to-first-output with and without outbound (measured, not asserted)", { timeout: 120_000 }, async () => {
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
    const once = async (network: SandboxNetwork, argv: string[]): Promise<number> => {
      const t0 = performance.now();
      // A function container's shape: a pids cgroup (so the command is held either way).
      const sb = startSandbox({ id: nextId(), rootfs, argv, network, limits: { pids: 512 } });
      await new Promise<void>((resolve) => sb.stdout.once("data", () => resolve()));
      const ms = performance.now() - t0;
      sb.stdout.resume();
      expect((await sb.exited).code).toBe(0);
      // Let the kernel finish tearing the last namespaces down: starts rarely follow each other this closely.
      await new Promise((resolve) => setTimeout(resolve, 30));
      return ms;
    };
    for (const argv of [["/bin/echo", "1"], [NODE, "-e", "console.log(1)"]]) {
      // Interleaved, so that a change in the machine's load weighs on both alike.
      const times: Record<SandboxNetwork, number[]> = { none: [], outbound: [] };
      for (let i = 0; i < 15; i++) for (const network of ["none", "outbound"] as const) times[network].push(await once(network, argv));
      const none = median(times.none);
      const outbound = median(times.outbound);
      console.log(`outbound network: start-to-first-output of ${argv.join(" ")}, median of 15 interleaved: none ${none.toFixed(1)} ms, outbound ${outbound.toFixed(1)} ms (+${(outbound - none).toFixed(1)} ms)`);
    }
  });
});
