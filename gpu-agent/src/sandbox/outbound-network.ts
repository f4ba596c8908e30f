/**
 * Outbound network for a sandbox: a user-mode network stack (slirp4netns) attached to the
 * sandbox's own network namespace.
 *
 * The sandbox keeps its private network namespace; slirp4netns creates a tap device `tap0` in it
 * (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3) and carries its traffic through ordinary sockets
 * of the agent's host: the sandbox can open outbound connections, nothing can connect in, and the
 * host's loopback (where the local platform's NATS, edge and region listen) is refused
 * (`--disable-host-loopback`: 10.0.2.2 does not lead to the host's 127.0.0.1).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { isRunning } from "./proc.ts";

/** The slirp4netns binary (Debian's package `slirp4netns` installs it here). */
export const DEFAULT_SLIRP4NETNS_PATH = "/usr/bin/slirp4netns";
/** The Debian package that provides slirp4netns, named in errors. */
export const SLIRP4NETNS_PACKAGE = "slirp4netns";
/** Name of the interface slirp4netns creates inside the sandbox. */
export const OUTBOUND_INTERFACE = "tap0";
/** MTU of that interface: slirp4netns' maximum minus its margin, much faster than 1500 for bulk transfers. */
export const OUTBOUND_MTU = 65520;
/** slirp4netns' built-in DNS forwarder inside the sandbox (it asks the host's resolvers). */
export const OUTBOUND_DNS = "10.0.2.3";
/** The /etc/resolv.conf an outbound sandbox gets: slirp's DNS forwarder, nothing of the host's. */
export const OUTBOUND_RESOLV_CONF = `nameserver ${OUTBOUND_DNS}\n`;
/** How long slirp4netns may take to bring the interface up (it takes about 4 ms) before the start fails. */
export const OUTBOUND_READY_TIMEOUT_MS = 5_000;
/** Poll interval while waiting for bubblewrap to set the sandbox's loopback up. */
const LOOPBACK_POLL_MS = 1;
/** slirp4netns' descriptors, as numbered in its stdio. */
const READY_FD = 3;
const EXIT_FD = 4;
/** Characters of slirp4netns' stderr kept for an error message. */
const STDERR_KEEP = 2_000;

/** Options of the network stack (host concerns). */
export interface OutboundNetworkOptions {
  /** slirp4netns binary (default /usr/bin/slirp4netns). */
  readonly slirp4netnsPath?: string;
}

/** A running network stack of one sandbox. */
export interface OutboundNetwork {
  /** Host pid of slirp4netns. */
  readonly pid: number;
  /** Stops slirp4netns; resolves once it has exited. Safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * slirp4netns' argv (pure) for the sandbox whose pid 1 is `pid`: configure `tap0`, refuse the
 * host's loopback, run in its own mount namespace without capabilities (`--enable-sandbox`) and
 * under a seccomp filter, report readiness on `readyFd` and exit when `exitFd` closes.
 *
 * `--userns-path=/proc/self/ns/user` keeps it in the agent's user namespace: bubblewrap moves the
 * sandbox's pid 1 into a nested user namespace that has no power over the sandbox's network
 * namespace (owned by the outer one), so joining pid 1's, the default, would fail. Root in the
 * initial user namespace needs no user namespace switch to enter it.
 *
 * @example
 * ```ts
 * slirp4netnsArgs(4242, { readyFd: 3, exitFd: 4 });
 * // ["--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp",
 * //  "--userns-path=/proc/self/ns/user", "--ready-fd=3", "--exit-fd=4", "4242", "tap0"]
 * ```
 */
export const slirp4netnsArgs = (pid: number, fds: { readonly readyFd: number; readonly exitFd: number }): string[] => {
  if (!Number.isInteger(pid) || pid <= 0) throw new TypeError(`invalid sandbox pid ${pid}`);
  return [
    "--configure",
    `--mtu=${OUTBOUND_MTU}`,
    "--disable-host-loopback",
    "--enable-sandbox",
    "--enable-seccomp",
    "--userns-path=/proc/self/ns/user",
    `--ready-fd=${fds.readyFd}`,
    `--exit-fd=${fds.exitFd}`,
    String(pid),
    OUTBOUND_INTERFACE,
  ];
};

/**
 * Throws, naming what to do, when this host cannot give a sandbox outbound network: slirp4netns
 * is missing, or the agent is not root (see `slirp4netnsArgs` for why it must be). Called before
 * anything of the sandbox is created, so an "outbound" start never silently gets no network.
 *
 * @example
 * ```ts
 * assertOutboundNetworkAvailable(); // throws "network \"outbound\" needs slirp4netns …" where it is missing
 * ```
 */
export const assertOutboundNetworkAvailable = (options: OutboundNetworkOptions = {}): void => {
  const path = options.slirp4netnsPath ?? DEFAULT_SLIRP4NETNS_PATH;
  if (!existsSync(path)) {
    throw new Error(`network "outbound" needs slirp4netns, which is not installed at ${path}: install it (apt-get install -y ${SLIRP4NETNS_PACKAGE}), or give the function or sandbox network: "none"`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`network "outbound" needs the agent to run as root (slirp4netns must enter the sandbox's network namespace from outside its user namespace); run the agent as root, or give the function or sandbox network: "none"`);
  }
};

/** Whether the network namespace of `pid` has its loopback address up (127.0.0.1 routed locally). */
const loopbackIsUp = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/net/fib_trie`, "utf8").includes("127.0.0.1");
  } catch {
    return false;
  }
};

/**
 * Resolves once bubblewrap has set up the loopback of the sandbox whose pid 1 is `pid` (started at
 * `startTime`); rejects when that process is gone first, or after `timeoutMs`.
 *
 * slirp4netns must not configure the namespace before that: it brings `lo` up too, and the kernel
 * then adds 127.0.0.1 itself, so bubblewrap's own exclusive add fails ("loopback: Failed
 * RTM_NEWADDR") and the sandbox with it. bubblewrap announces pid 1 before that setup is done.
 *
 * @example
 * ```ts
 * await waitForSandboxLoopback(initPid, processStartTime(initPid) ?? "");
 * ```
 */
export const waitForSandboxLoopback = async (pid: number, startTime: string, timeoutMs = OUTBOUND_READY_TIMEOUT_MS): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!loopbackIsUp(pid)) {
    if (!isRunning(pid, startTime)) throw new Error(`sandbox pid ${pid} ended before its network namespace was set up`);
    if (Date.now() >= deadline) throw new Error(`sandbox pid ${pid}: bubblewrap did not set its loopback up within ${timeoutMs} ms`);
    await sleep(LOOPBACK_POLL_MS);
  }
};

const socketAt = (stdio: readonly unknown[], fd: number): Duplex => {
  const stream = stdio[fd];
  if (!(stream instanceof Duplex)) throw new Error(`slirp4netns fd ${fd} is not a socket`);
  return stream;
};

/**
 * Starts slirp4netns for the sandbox whose pid 1 is `pid` (its network namespace must exist, and
 * the command should still be held on bubblewrap's block fd) and resolves once `tap0` is up with
 * its address and default route. Rejects, with slirp4netns' own message, when it exits first or
 * does not get there within OUTBOUND_READY_TIMEOUT_MS (and then leaves nothing running).
 *
 * @example
 * ```ts
 * const net = await startOutboundNetwork(initPid);
 * blockFd.end("x"); // release the command: it starts with its network up
 * await sandbox.exited;
 * await net.stop();
 * ```
 */
export const startOutboundNetwork = (pid: number, options: OutboundNetworkOptions = {}): Promise<OutboundNetwork> => {
  const path = options.slirp4netnsPath ?? DEFAULT_SLIRP4NETNS_PATH;
  const child = spawn(path, slirp4netnsArgs(pid, { readyFd: READY_FD, exitFd: EXIT_FD }), {
    // ready: slirp writes one byte; exit: slirp exits when it reads EOF, i.e. when we close our end
    // (or when the agent dies, so no stack outlives its agent).
    stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
    env: {},
    cwd: "/",
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    if (stderr.length < STDERR_KEEP) stderr += chunk;
  });
  const ready = socketAt(child.stdio, READY_FD);
  const exitChannel = socketAt(child.stdio, EXIT_FD);
  for (const stream of [ready, exitChannel]) stream.on("error", () => undefined);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // It keeps no state worth a graceful end. Its exit closes the tap device, which the kernel
      // unregisters synchronously: that, not the signal, takes most of the ~20 ms before `exited`.
      exitChannel.destroy();
      child.kill("SIGKILL");
      await exited;
      ready.destroy();
    })();
    return stopping;
  };

  return new Promise<OutboundNetwork>((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const detail = stderr.trim().split("\n").filter((l) => l !== "").slice(-3).join("; ");
      void stop().then(() => reject(new Error(`outbound network for sandbox pid ${pid}: ${why}${detail === "" ? "" : ` (${detail})`}`)));
    };
    const timer = setTimeout(() => fail(`slirp4netns did not bring ${OUTBOUND_INTERFACE} up within ${OUTBOUND_READY_TIMEOUT_MS} ms`), OUTBOUND_READY_TIMEOUT_MS);
    child.once("error", (error) => fail(`cannot run ${path}: ${error.message}`));
    child.once("exit", (code, signal) => fail(`slirp4netns exited before the network was up (code ${code ?? "none"}${signal ? `, signal ${signal}` : ""})`));
    ready.once("data", () => {
      const childPid = child.pid;
      if (settled || childPid === undefined) return;
      settled = true;
      clearTimeout(timer);
      resolve({ pid: childPid, stop });
    });
  });
};
