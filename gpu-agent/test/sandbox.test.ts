import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  SANDBOX_NODE_DIR,
  buildBwrapArgs,
  createCgroup,
  defaultNodeImageBinds,
  detectCgroupLayout,
  parseCgroupMounts,
  startSandbox,
  sweepStaleCgroups,
  type Sandbox,
  type SandboxExit,
  type SandboxSpec,
} from "../src/sandbox/index.ts";

const NODE = `${SANDBOX_NODE_DIR}/node`;
const rootfs = defaultNodeImageBinds(dirname(process.execPath));
let counter = 0;
const nextId = (): string => `t${process.pid}-${++counter}`;

const spec = (argv: string[], extra: Partial<SandboxSpec> = {}): SandboxSpec => ({
  id: nextId(),
  rootfs,
  argv,
  network: "none",
  ...extra,
});

interface Run {
  stdout: string;
  stderr: string;
  exit: SandboxExit;
}

const collect = (stream: NodeJS.ReadableStream): Promise<string> =>
  new Promise((resolve) => {
    let text = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (text += chunk));
    stream.on("end", () => resolve(text));
    stream.on("close", () => resolve(text));
  });

const finish = async (sb: Sandbox): Promise<Run> => {
  const [stdout, stderr, exit] = await Promise.all([collect(sb.stdout), collect(sb.stderr), sb.exited]);
  return { stdout, stderr, exit };
};

const run = (argv: string[], extra: Partial<SandboxSpec> = {}): Promise<Run> => finish(startSandbox(spec(argv, extra)));

/** Host pids whose command line is exactly `argv` (zombies excluded: they have no cmdline). */
const hostPidsWithCmdline = (argv: string[]): number[] => {
  const wanted = argv.join("\0") + "\0";
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8") === wanted) pids.push(Number(name));
    } catch {
      // exited during the scan
    }
  }
  return pids;
};

/** Decides once whether this host lets us apply each limit; the limit tests skip only on that. */
const probeLimit = (limits: { memoryMiB?: number; cpu?: number; pids?: number }): { ok: boolean; why: string } => {
  const result = createCgroup(`probe-${process.pid}-${++counter}`, limits);
  if (!result.applied) return { ok: false, why: result.reason };
  void result.cgroup.remove();
  const skipped = result.skipped.map((s) => `${s.limit}: ${s.reason}`).join("; ");
  return { ok: skipped === "", why: skipped };
};
const memoryProbe = probeLimit({ memoryMiB: 64 });
const pidsProbe = probeLimit({ pids: 64 });
const cpuProbe = probeLimit({ cpu: 0.5 });
for (const [name, probe] of [["memory", memoryProbe], ["pids", pidsProbe], ["cpu", cpuProbe]] as const) {
  if (!probe.ok) console.log(`sandbox tests: ${name} limit cannot be applied here, its test is skipped: ${probe.why}`);
}

/** Splits bubblewrap options into [flag, ...operands] groups. */
const ARITY: Record<string, number> = {
  "--uid": 1, "--gid": 1, "--hostname": 1, "--cap-drop": 1, "--setenv": 2, "--ro-bind": 2, "--bind": 2,
  "--dev-bind": 2, "--symlink": 2, "--proc": 1, "--dev": 1, "--tmpfs": 1, "--size": 1, "--remount-ro": 1,
  "--chdir": 1, "--info-fd": 1, "--block-fd": 1,
};
const parseOptions = (args: string[]): { options: string[][]; command: string[] } => {
  const options: string[][] = [];
  let i = 0;
  while (i < args.length && args[i] !== "--") {
    const flag = args[i] ?? "";
    const n = ARITY[flag] ?? 0;
    options.push(args.slice(i, i + 1 + n));
    i += 1 + n;
  }
  return { options, command: args.slice(i + 1) };
};

describe("buildBwrapArgs (pure)", () => {
  const base: SandboxSpec = {
    id: "ct-0k3x9abcdefghijkl",
    rootfs: [
      { hostPath: "/usr", sandboxPath: "/usr" },
      { symlinkTo: "usr/lib", sandboxPath: "/lib" },
      { hostPath: "/host/node/bin", sandboxPath: "/opt/ferry/node" },
    ],
    readOnlyBinds: [{ hostPath: "/srv/bundle.js", sandboxPath: "/opt/ferry/app/bundle.js" }],
    env: { FOO: "bar" },
    argv: ["/opt/ferry/node/node", "-e", "1"],
    network: "none",
  };

  it("unshares every namespace, drops privileges and mounts everything read-only but /tmp", () => {
    const { options, command } = parseOptions(buildBwrapArgs(base, { infoFd: 5, blockFd: 6 }));
    const flags = options.map((o) => o.join(" "));
    for (const flag of ["--unshare-user", "--disable-userns", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup",
      "--uid 1000", "--gid 1000", "--hostname ferry-ct-0k3x9abcdefgh", "--die-with-parent", "--new-session", "--cap-drop ALL", "--clearenv",
      "--proc /proc", "--dev /dev", "--tmpfs /tmp", "--remount-ro /", "--chdir /tmp", "--info-fd 5", "--block-fd 6",
      "--ro-bind /usr /usr", "--symlink usr/lib /lib", "--ro-bind /host/node/bin /opt/ferry/node", "--ro-bind /srv/bundle.js /opt/ferry/app/bundle.js"]) {
      expect(flags).toContain(flag);
    }
    // "none": the new network namespace's loopback only, and no resolv.conf of its own.
    expect(flags).not.toContain("--share-net");
    expect(options.filter((o) => o[0] === "--ro-bind-data")).toEqual([]);
    // Nothing writable from the host: no rw or device binds, the only new writable fs is /tmp.
    expect(options.filter((o) => ["--bind", "--bind-try", "--dev-bind", "--dev-bind-try"].includes(o[0] ?? ""))).toEqual([]);
    expect(options.filter((o) => o[0] === "--tmpfs")).toEqual([["--tmpfs", "/tmp"]]);
    // The root is frozen after every mount point exists.
    const mounts = options.map((o, i) => ({ flag: o[0], i })).filter((o) => ["--ro-bind", "--symlink", "--tmpfs", "--proc", "--dev"].includes(o.flag ?? ""));
    expect(flags.indexOf("--remount-ro /")).toBeGreaterThan(Math.max(...mounts.map((m) => m.i)));
    // Only the given env plus the PATH/HOME defaults, set after --clearenv.
    expect(options.filter((o) => o[0] === "--setenv")).toEqual([
      ["--setenv", "PATH", "/opt/ferry/node:/usr/bin:/bin"],
      ["--setenv", "HOME", "/tmp"],
      ["--setenv", "FOO", "bar"],
    ]);
    expect(flags.indexOf("--clearenv")).toBeLessThan(flags.findIndex((f) => f.startsWith("--setenv")));
    expect(command).toEqual(base.argv);
  });

  it("adds volumes, devices and a /tmp size only when asked, after the private mounts", () => {
    const { options } = parseOptions(
      buildBwrapArgs({ ...base, readWriteBinds: [{ hostPath: "/vol/a", sandboxPath: "/data" }], devices: ["/dev/nvidia0"], tmpSizeMiB: 64 }),
    );
    const flags = options.map((o) => o.join(" "));
    expect(flags).toContain("--bind /vol/a /data");
    expect(flags).toContain("--dev-bind /dev/nvidia0 /dev/nvidia0");
    expect(flags.indexOf("--dev-bind /dev/nvidia0 /dev/nvidia0")).toBeGreaterThan(flags.indexOf("--dev /dev"));
    expect(flags.indexOf(`--size ${64 * 1024 * 1024}`)).toBe(flags.indexOf("--tmpfs /tmp") - 1);
  });

  it("rejects specs that would weaken or confuse the sandbox", () => {
    expect(() => buildBwrapArgs({ ...base, id: "../x" })).toThrow(TypeError);
    expect(() => buildBwrapArgs({ ...base, argv: [] })).toThrow(TypeError);
    expect(() => buildBwrapArgs({ ...base, readOnlyBinds: [{ hostPath: "rel", sandboxPath: "/x" }] })).toThrow(TypeError);
    expect(() => buildBwrapArgs({ ...base, readWriteBinds: [{ hostPath: "/", sandboxPath: "/" }] })).toThrow(TypeError);
    expect(() => buildBwrapArgs({ ...base, readWriteBinds: [{ hostPath: "/x", sandboxPath: "/tmp" }] })).toThrow(TypeError);
    expect(() => buildBwrapArgs({ ...base, readOnlyBinds: [{ hostPath: "/a/../etc", sandboxPath: "/x" }] })).toThrow(TypeError);
    expect(() => buildBwrapArgs({ ...base, env: { "A=B": "x" } })).toThrow(TypeError);
    expect(() => buildBwrapArgs({ ...base, env: { A: "x\0--bind" } })).toThrow(TypeError);
    expect(() => buildBwrapArgs({ ...base, devices: ["/etc/shadow"] })).toThrow(TypeError);
  });
});

describe("cgroup layout detection (pure)", () => {
  it("finds v1 controller hierarchies, co-mounted ones included", () => {
    const { v1, v2 } = parseCgroupMounts(
      [
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
      ].join("\n"),
    );
    expect(Object.fromEntries(v1)).toEqual({ cpu: "/sys/fs/cgroup/cpu,cpuacct", memory: "/sys/fs/cgroup/memory", pids: "/sys/fs/cgroup/pids" });
    expect(v2).toEqual(["/sys/fs/cgroup/unified"]);
  });

  it("finds a pure v2 mount", () => {
    const { v1, v2 } = parseCgroupMounts("29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
    expect(v1.size).toBe(0);
    expect(v2).toEqual(["/sys/fs/cgroup"]);
  });

  it("applies v2 limits through the unified files (fake hierarchy)", () => {
    const fake = mkdtempSync(join(tmpdir(), "ferry-fake-cg2-"));
    try {
      writeFileSync(join(fake, "cgroup.controllers"), "cpuset cpu io pids\n");
      writeFileSync(join(fake, "cgroup.subtree_control"), "");
      mkdirSync(join(fake, "ferry"));
      writeFileSync(join(fake, "ferry", "cgroup.controllers"), "cpu pids\n");
      writeFileSync(join(fake, "ferry", "cgroup.subtree_control"), "");
      const result = createCgroup("ct-v2", { memoryMiB: 64, cpu: 0.5, pids: 32 }, { layout: { version: 2, mount: fake, controllers: ["cpu", "pids"] } });
      expect(result.applied).toBe(true);
      if (!result.applied) return;
      expect(result.version).toBe(2);
      expect(result.limits).toEqual({ cpu: 0.5, pids: 32 });
      expect(result.skipped).toEqual([{ limit: "memoryMiB", reason: `the memory controller is not available in ${fake}` }]);
      expect(readFileSync(join(fake, "ferry", "ct-v2", "cpu.max"), "utf8")).toBe("50000 100000");
      expect(readFileSync(join(fake, "ferry", "ct-v2", "pids.max"), "utf8")).toBe("32");
      expect(existsSync(join(fake, "ferry", "ct-v2", "memory.max"))).toBe(false);
      // Controllers are enabled for the children at every level above the container's cgroup.
      for (const level of [fake, join(fake, "ferry")]) expect(readFileSync(join(level, "cgroup.subtree_control"), "utf8")).toMatch(/^\+(cpu|pids)$/);
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  });

  it("reports, rather than throws, when the cgroup fs is not writable", () => {
    const result = createCgroup("ct-ro", { memoryMiB: 64 }, { layout: { version: 1, mounts: { memory: "/proc/self/fdinfo" } } });
    expect(result.applied).toBe(false);
    if (result.applied) return;
    expect(result.reason).toMatch(/^memoryMiB: mkdir \/proc\/self\/fdinfo\/ferry: /);
    expect(result.skipped.map((s) => s.limit)).toEqual(["memoryMiB"]);
    expect(() => createCgroup("ct-bad", { pids: 0 })).toThrow(TypeError);
  });

  it("sweeps empty leftover cgroups but keeps young or busy ones (fake hierarchy)", () => {
    const fake = mkdtempSync(join(tmpdir(), "ferry-fake-cg1-"));
    try {
      for (const name of ["ct-old", "ct-busy"]) {
        mkdirSync(join(fake, "ferry", name), { recursive: true });
      }
      // Listed processes mark a cgroup as in use, whatever its age.
      writeFileSync(join(fake, "ferry", "ct-busy", "cgroup.procs"), `${process.pid}\n`);
      const layout = { version: 1, mounts: { pids: fake } } as const;
      expect(sweepStaleCgroups({ layout })).toEqual([]); // all younger than the default minimum age
      expect(sweepStaleCgroups({ layout, minAgeMs: 0 })).toEqual([join(fake, "ferry", "ct-old")]);
      expect(existsSync(join(fake, "ferry", "ct-busy"))).toBe(true);
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  });

  it("detects this host's layout", () => {
    const layout = detectCgroupLayout();
    console.log(`sandbox tests: cgroup layout ${JSON.stringify(layout)}`);
    expect(layout === undefined || layout.version === 1 || layout.version === 2).toBe(true);
  });
});

describe("defaultNodeImageBinds", () => {
  it("keeps usrmerge links as symlinks, exposes a minimal /etc and the runtime", () => {
    for (const dir of ["/bin", "/lib", "/lib64", "/sbin"]) {
      if (!existsSync(dir)) continue;
      const entry = rootfs.find((e) => e.sandboxPath === dir);
      if (lstatSync(dir).isSymbolicLink()) expect(entry).toHaveProperty("symlinkTo");
      else expect(entry).toHaveProperty("hostPath", dir);
    }
    const etc = rootfs.filter((e) => e.sandboxPath.startsWith("/etc/")).map((e) => e.sandboxPath);
    expect(etc).toContain("/etc/passwd");
    expect(etc).not.toContain("/etc/shadow");
    expect(rootfs.find((e) => e.sandboxPath === SANDBOX_NODE_DIR)).toBeDefined();
  });
});

describe("startSandbox (real bubblewrap)", () => {
  it("runs node inside and gives it only the environment it was given", async () => {
    const r = await run([NODE, "-e", "console.log(JSON.stringify({ env: process.env, uid: process.getuid(), host: require('os').hostname(), user: require('os').userInfo().username, cwd: process.cwd() }))"], {
      env: { FOO: "bar", EMPTY: "" },
    });
    expect(r.stderr).toBe("");
    expect(r.exit).toEqual({ code: 0, signal: null });
    const out = JSON.parse(r.stdout) as { env: Record<string, string>; uid: number; host: string; user: string; cwd: string };
    // PWD is set by bubblewrap itself; nothing of the host's environment comes through.
    expect(out.env).toEqual({ FOO: "bar", EMPTY: "", PATH: "/opt/ferry/node:/usr/bin:/bin", HOME: "/tmp", PWD: "/tmp" });
    expect(out.uid).toBe(1000);
    expect(out.user).toBe("ferry");
    expect(out.host).toMatch(/^ferry-t\d+-\d+$/);
    expect(out.cwd).toBe("/tmp");
  });

  it("carries a control channel on fd 3 both ways, and no launcher descriptor leaks in", async () => {
    const sb = startSandbox(
      spec([NODE, "-e", `
        const fs = require('fs');
        // Every fd but stdio, the control socket and node's own must be gone (the launcher's
        // args/info/block descriptors; inherited host descriptors arrive as /dev/null).
        const fds = fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => fd > 3)
          .map((fd) => { try { return fd + ' ' + fs.readlinkSync('/proc/self/fd/' + fd); } catch { return null; } })
          .filter((x) => x !== null && !/anon_inode|^\\d+ \\/proc\\//.test(x));
        const sock = new (require('net').Socket)({ fd: 3, readable: true, writable: true });
        let buf = '';
        sock.setEncoding('utf8');
        sock.on('data', (d) => {
          buf += d;
          if (buf.includes('\\n')) { sock.end('echo:' + buf.trim() + ' fds:' + JSON.stringify(fds) + '\\n'); }
        });
      `]),
    );
    sb.control.write("ping from host\n");
    const reply = await collect(sb.control);
    const r = await finish(sb);
    expect(r.exit.code).toBe(0);
    const match = /^echo:ping from host fds:(.*)\n$/.exec(reply);
    expect(match).not.toBeNull();
    const fds = JSON.parse(match?.[1] ?? "[]") as string[];
    for (const fd of fds) expect(fd).toMatch(/^\d+ (\/dev\/null|pipe:\[\d+\]|socket:\[\d+\])$/);
    // Node inside opens its own pipes/sockets (signal pipe, etc.) but none beyond fd 4-6 can be
    // the launcher's: those are closed by bubblewrap before the command starts.
    expect(fds.filter((fd) => /^[456] socket:/.test(fd))).toEqual([]);
  });

  describe("isolation", () => {
    let server: Server;
    let port = 0;
    let connections = 0;
    const marker = join(tmpdir(), `ferry-marker-${process.pid}`);
    const insideName = `ferry-inside-${process.pid}`;

    beforeAll(async () => {
      writeFileSync(marker, "host secret");
      server = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = server.address();
      port = typeof address === "object" && address !== null ? address.port : 0;
    });
    afterAll(async () => {
      rmSync(marker, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("hides host files, is read-only but /tmp, has its own pids and no network", async () => {
      const probe = `
        const fs = require('fs');
        const out = {};
        const attempt = (name, fn) => { try { out[name] = 'OK ' + String(fn()).slice(0, 40); } catch (e) { out[name] = e.code; } };
        attempt('shadow', () => fs.readFileSync('/etc/shadow', 'utf8'));
        attempt('root', () => fs.readdirSync('/root'));
        attempt('home', () => fs.readdirSync('/home'));
        attempt('work', () => fs.readFileSync('/work/main/package.json', 'utf8'));
        attempt('marker', () => fs.readFileSync(${JSON.stringify(marker)}, 'utf8'));
        attempt('writeUsr', () => fs.writeFileSync('/usr/evil', 'x'));
        attempt('writeRoot', () => fs.writeFileSync('/evil', 'x'));
        attempt('writeEtc', () => fs.writeFileSync('/etc/hosts', 'x'));
        attempt('writeNode', () => fs.writeFileSync('/opt/ferry/node/node', 'x'));
        attempt('writeTmp', () => { fs.writeFileSync('/tmp/${insideName}', 'inside'); return fs.readFileSync('/tmp/${insideName}', 'utf8'); });
        out.tmpListing = fs.readdirSync('/tmp');
        out.etc = fs.readdirSync('/etc').sort();
        out.pid = process.pid;
        out.procPids = fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).map(Number);
        out.caps = fs.readFileSync('/proc/self/status', 'utf8').split('\\n').filter((l) => /^Cap(Eff|Prm|Bnd)/.test(l));
        out.ifaces = Object.keys(require('os').networkInterfaces());
        const sock = require('net').connect(${port}, '127.0.0.1');
        sock.on('connect', () => { out.connect = 'connected'; done(); });
        sock.on('error', (e) => { out.connect = e.code; done(); });
        function done() { console.log(JSON.stringify(out)); process.exit(0); }
      `;
      const r = await run([NODE, "-e", probe]);
      expect(r.stderr).toBe("");
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(out.shadow).toBe("ENOENT");
      expect(out.root).toBe("ENOENT");
      expect(out.home).toBe("ENOENT");
      expect(out.work).toBe("ENOENT");
      expect(out.marker).toBe("ENOENT");
      expect(["EROFS", "EACCES"]).toContain(out.writeUsr);
      expect(["EROFS", "EACCES"]).toContain(out.writeRoot);
      expect(["EROFS", "EACCES"]).toContain(out.writeEtc);
      expect(["EROFS", "EACCES", "ETXTBSY"]).toContain(out.writeNode);
      expect(out.writeTmp).toBe("OK inside");
      // The sandbox's /tmp is private: empty but for its own file, and that file is not on the host.
      expect(out.tmpListing).toEqual([insideName]);
      expect(existsSync(join(tmpdir(), insideName))).toBe(false);
      expect(out.etc).toEqual(expect.not.arrayContaining(["shadow", "gshadow", "sudoers", "ssh"]));
      // pid namespace: bubblewrap's init is 1, the command 2; no host process is visible.
      expect(out.pid).toBe(2);
      expect(out.procPids).toEqual([1, 2]);
      expect(out.caps).toEqual(["CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000000"]);
      // Own network namespace: only a loopback, where nothing listens.
      expect(out.ifaces).toEqual(["lo"]);
      expect(["ECONNREFUSED", "ENETUNREACH"]).toContain(out.connect);
      expect(connections).toBe(0);
    });

    it("mounts extra read-only binds and a read-write volume where asked", async () => {
      const dir = mkdtempSync(join(tmpdir(), "ferry-sbx-"));
      // bubblewrap runs as an unprivileged host user when we are root: let it reach the files.
      chmodSync(dir, 0o755);
      const volume = join(dir, "vol");
      const bundle = join(dir, "bundle.js");
      writeFileSync(bundle, "console.log('bundle ran'); require('fs').writeFileSync('/data/out.txt', 'from sandbox');");
      mkdirSync(volume, { mode: 0o777 });
      chmodSync(volume, 0o777);
      try {
        const r = await run([NODE, "/opt/ferry/app/bundle.js"], {
          readOnlyBinds: [{ hostPath: bundle, sandboxPath: "/opt/ferry/app/bundle.js" }],
          readWriteBinds: [{ hostPath: volume, sandboxPath: "/data" }],
        });
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe("bundle ran\n");
        expect(readFileSync(join(volume, "out.txt"), "utf8")).toBe("from sandbox");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("kill", () => {
    it("kill() ends the sandbox and every process in it", async () => {
      const sleepArgv = ["sleep", `100.${process.pid}${counter}`];
      const sb = startSandbox(
        spec([NODE, "-e", `
          const c = require('child_process').spawn(${JSON.stringify(sleepArgv[0])}, [${JSON.stringify(sleepArgv[1])}], { stdio: 'ignore', detached: true });
          c.on('spawn', () => console.log('ready'));
          setInterval(() => {}, 1000);
        `]),
      );
      const stdout = collect(sb.stdout);
      // 'ready' is printed once the child has spawned; wait for it, not merely for the pid to show.
      await new Promise<void>((resolve) => sb.stdout.once("data", () => resolve()));
      const before = hostPidsWithCmdline(sleepArgv);
      expect(before).toHaveLength(1);
      sb.kill();
      const exit = await sb.exited;
      expect(await stdout).toBe("ready\n");
      expect(exit.code).toBe(137);
      expect(hostPidsWithCmdline(sleepArgv)).toEqual([]);
      expect(existsSync(`/proc/${sb.pid}/cmdline`) && readFileSync(`/proc/${sb.pid}/cmdline`, "utf8") !== "").toBe(false);
    });

    it("kill() right after start, before the sandbox is set up, leaves nothing either", async () => {
      const sleepArgv = ["sleep", `300.${process.pid}${counter}`];
      const sb = startSandbox(spec(sleepArgv, memoryProbe.ok ? { limits: { memoryMiB: 64 } } : {}));
      sb.kill();
      const exit = await sb.exited;
      expect(exit.code).toBe(137);
      expect(exit.error).toBeUndefined();
      expect(hostPidsWithCmdline(sleepArgv)).toEqual([]);
    });

    it("a graceful signal reaches the command, which can clean up and exit", async () => {
      const sb = startSandbox(
        spec([NODE, "-e", "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(7); }); console.log('ready'); setInterval(() => {}, 1000);"]),
      );
      await new Promise<void>((resolve) => sb.stdout.once("data", () => resolve()));
      const rest = collect(sb.stdout);
      sb.kill("SIGTERM");
      const exit = await sb.exited;
      expect(await rest).toBe("got SIGTERM\n");
      expect(exit.code).toBe(7);
    });

    it("nothing outlives the command, not even a detached daemon", async () => {
      const sleepArgv = ["sleep", `200.${process.pid}${counter}`];
      const r = await run([NODE, "-e", `
        const c = require('child_process').spawn(${JSON.stringify(sleepArgv[0])}, [${JSON.stringify(sleepArgv[1])}], { stdio: 'ignore', detached: true });
        c.unref();
        c.on('spawn', () => console.log('daemon started'));
      `]);
      expect(r.stdout).toBe("daemon started\n");
      expect(r.exit.code).toBe(0);
      expect(hostPidsWithCmdline(sleepArgv)).toEqual([]);
    });
  });

  it("a failing bubblewrap reports its reason and leaves no cgroup behind", async () => {
    const sb = startSandbox(
      spec(["/bin/true"], {
        readOnlyBinds: [{ hostPath: `/nonexistent-${process.pid}`, sandboxPath: "/x" }],
        ...(memoryProbe.ok ? { limits: { memoryMiB: 64 } } : {}),
      }),
    );
    const paths = sb.limits?.applied === true ? sb.limits.cgroup.paths : [];
    const r = await finish(sb);
    expect(r.exit.code).toBe(1);
    expect(r.exit.error).toBeUndefined();
    expect(r.stderr).toContain(`Can't find source path /nonexistent-${process.pid}`);
    for (const path of paths) expect(existsSync(path)).toBe(false);
  });

  describe("limits", () => {
    it.skipIf(!memoryProbe.ok)("a memory limit OOM-kills a process allocating past it", async () => {
      const sb = startSandbox(
        spec([NODE, "-e", `
          const keep = [];
          for (let i = 0; i < 64; i++) { keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); console.log((i + 1) * 16); }
          console.log('survived');
        `], { limits: { memoryMiB: 128 } }),
      );
      expect(sb.limits?.applied).toBe(true);
      const paths = sb.limits?.applied === true ? sb.limits.cgroup.paths : [];
      const r = await finish(sb);
      expect(r.stdout).not.toContain("survived");
      expect(r.exit.code).toBe(137);
      expect(r.exit.oomKilled).toBe(true);
      // The cgroup is gone once the sandbox is.
      for (const path of paths) expect(existsSync(path)).toBe(false);
    });

    it.skipIf(!memoryProbe.ok)("a process within the memory limit runs normally", async () => {
      const r = await run([NODE, "-e", "const b = Buffer.alloc(16 * 1024 * 1024, 1); console.log(b.length)"], { limits: { memoryMiB: 256 } });
      expect(r.stdout).toBe(`${16 * 1024 * 1024}\n`);
      expect(r.exit).toEqual({ code: 0, signal: null, oomKilled: false });
    });

    it.skipIf(!pidsProbe.ok)("a pids limit stops a fork storm", async () => {
      const r = await run(["/bin/sh", "-c", "i=0; while [ $i -lt 64 ]; do sleep 5 & i=$((i+1)); done; echo all-started"], { limits: { pids: 16 } });
      expect(r.stdout).not.toContain("all-started");
      expect(r.stderr).toMatch(/fork|Resource temporarily unavailable/i);
    });

    it.skipIf(!cpuProbe.ok)("a CPU quota caps CPU time", async () => {
      const r = await run([NODE, "-e", `
        const start = process.hrtime.bigint(); const cpu0 = process.cpuUsage();
        while (process.hrtime.bigint() - start < 800_000_000n) {}
        const used = process.cpuUsage(cpu0); console.log(((used.user + used.system) / 800_000).toFixed(3));
      `], { limits: { cpu: 0.2 } });
      const share = Number(r.stdout);
      console.log(`sandbox tests: CPU share under a 0.2-core quota: ${share}`);
      expect(share).toBeGreaterThan(0);
      expect(share).toBeLessThan(0.5);
    });
  });

  it("start-to-first-output time (measured, not asserted)", async () => {
    const median = (values: number[]): number => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)] ?? NaN;
    };
    const measure = async (argv: string[], extra: Partial<SandboxSpec> = {}): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const sb = startSandbox(spec(argv, extra));
        await new Promise<void>((resolve) => sb.stdout.once("data", () => resolve()));
        times.push(performance.now() - t0);
        sb.stdout.resume();
        expect((await sb.exited).code).toBe(0);
      }
      return median(times);
    };
    const echo = await measure(["/bin/echo", "1"]);
    const node = await measure([NODE, "-e", "console.log(1)"]);
    const nodeLimited = memoryProbe.ok ? await measure([NODE, "-e", "console.log(1)"], { limits: { memoryMiB: 256, pids: 256 } }) : NaN;
    console.log(
      `sandbox start-to-first-output, median of 20: /bin/echo ${echo.toFixed(1)} ms; node -e 'console.log(1)' ${node.toFixed(1)} ms; ` +
        `node with cgroup limits ${nodeLimited.toFixed(1)} ms`,
    );
  });
});
