/**
 * Starts one container as a bubblewrap sandbox and gives the caller its stdio, a control channel
 * on fd 3, its exit, and a kill that takes the whole sandbox down.
 */
import { spawn } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { Duplex, Readable, Writable } from "node:stream";
import { buildBwrapArgs, type SandboxSpec } from "./bwrap-args.ts";
import { createCgroup, type Cgroup, type CgroupResult } from "./cgroup.ts";
import { assertOutboundNetworkAvailable, OUTBOUND_RESOLV_CONF, startOutboundNetwork, waitForSandboxLoopback, type OutboundNetwork } from "./outbound-network.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { descendants, inheritableFds, isRunning, processStartTime, signalIfSame, signalQuietly, waitUntilGone } from "./proc.ts";

/** bubblewrap binary (Debian's package path). */
export const DEFAULT_BWRAP_PATH = "/usr/bin/bwrap";
/**
 * Host uid/gid bubblewrap runs as when the agent is root: "nobody". The sandbox's uid 1000 maps to
 * it, so a process that got out would be nobody on the host rather than root, and host files
 * reach the sandbox only through their world permissions.
 */
export const DEFAULT_UNPRIVILEGED_HOST_ID = 65534;
/** The control channel's descriptor inside the sandbox. */
export const CONTROL_FD = 3;
/** bubblewrap reads its options from here (`--args`): env values stay out of the host's `ps`. */
const ARGS_FD = 4;
/** bubblewrap writes the host pid of the sandbox's pid 1 here (`--info-fd`). */
const INFO_FD = 5;
/** bubblewrap waits here before forking the command, while the launcher places it in the cgroup and attaches its network (`--block-fd`). */
const BLOCK_FD = 6;
/** "outbound" only: bubblewrap reads the sandbox's /etc/resolv.conf from here (`--ro-bind-data`). */
const RESOLV_CONF_FD = 7;
/** How long the exit handler waits for the sandbox's pid 1 to tear the pid namespace down before killing it. */
const NAMESPACE_DRAIN_MS = 2_000;
/** How long the exit handler waits for bubblewrap's info when bubblewrap died before we read it. */
const INFO_GRACE_MS = 200;
/** A kill asked for before bubblewrap named its pid 1 falls back to killing bubblewrap after this. */
const KILL_FALLBACK_MS = 1_000;
const CHILD_PID_PATTERN = /"child-pid":\s*(\d+)/;


/** Host account bubblewrap runs as. */
export type HostUser = { readonly uid: number; readonly gid: number } | "current";

/** Launcher options (host concerns, unlike the spec which describes the container). */
export interface StartSandboxOptions {
  /** bubblewrap binary (default /usr/bin/bwrap). */
  readonly bwrapPath?: string;
  /**
   * Host account bubblewrap runs as. Default: 65534 ("nobody") when the agent is root, else the
   * agent's own account. "current" as root keeps the sandbox's processes host-root outside their
   * user namespace (no capabilities, but root-owned files' owner permissions apply): avoid it.
   * The image's and binds' host paths must be readable by this account.
   */
  readonly hostUser?: HostUser;
  /** cgroup parent directory relative to each hierarchy (default "ferry", see cgroup.ts). */
  readonly cgroupParent?: string;
  /** Throw instead of starting when `spec.limits` cannot all be applied (default false: best effort). */
  readonly requireLimits?: boolean;
  /** slirp4netns binary, for `network: "outbound"` (default /usr/bin/slirp4netns). */
  readonly slirp4netnsPath?: string;
}

/** How a sandbox ended. */
export interface SandboxExit {
  /**
   * bubblewrap's exit code: the command's, or 128+N when the command (or the sandbox, after
   * `kill()`) died of signal N (bubblewrap's pid 1 turns a signal death into such a code).
   */
  readonly code: number | null;
  /** Set when bubblewrap itself died of a signal (e.g. killed before the command started). */
  readonly signal: NodeJS.Signals | null;
  /** With a memory limit in force: whether the kernel's OOM killer fired in the sandbox. */
  readonly oomKilled?: boolean;
  /** Launcher-side failure: spawn error, cgroup placement failure, outbound network failure, or cgroup cleanup failure. */
  readonly error?: Error;
}

/** A running sandbox. */
export interface Sandbox {
  readonly id: string;
  /** Host pid of the outer bubblewrap process. */
  readonly pid: number;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** fd 3 inside the sandbox: a socket pair end for the caller's control protocol. */
  readonly control: Duplex;
  /**
   * Resolves (never rejects) once bubblewrap has exited, every process of the sandbox is gone and
   * its cgroup is removed.
   */
  readonly exited: Promise<SandboxExit>;
  /** The cgroup outcome: which limits hold. Undefined when the spec asked for none. */
  readonly limits: CgroupResult | undefined;
  /**
   * Signals the whole sandbox. SIGKILL (the default) kills the sandbox's pid 1, and the kernel
   * then kills every other process of its pid namespace: nothing survives, and `exited` resolves
   * after they are gone. Any other signal goes to every process in the sandbox but its pid 1
   * (a graceful stop: when the command exits, the rest is killed as above). Before bubblewrap has
   * named the sandbox's pid 1 (the first milliseconds), any signal means SIGKILL.
   */
  kill(signal?: NodeJS.Signals): void;
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const errorCode = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;

const hostUserOf = (option: HostUser | undefined): { uid: number; gid: number } | undefined => {
  if (option === "current") return undefined;
  if (option !== undefined) return option;
  return process.getuid?.() === 0 ? { uid: DEFAULT_UNPRIVILEGED_HOST_ID, gid: DEFAULT_UNPRIVILEGED_HOST_ID } : undefined;
};

const duplexAt = (stdio: readonly (Readable | Writable | null | undefined)[], fd: number): Duplex => {
  const stream = stdio[fd];
  // Node creates every extra "pipe" as a Unix socket pair end, i.e. a net.Socket (a Duplex).
  if (!(stream instanceof Duplex)) throw new Error(`sandbox fd ${fd} is not a socket`);
  return stream;
};

// Opened once, close-on-exec like everything Node opens; see `maskInheritedFds`.
let devNullFd: number | undefined;

/**
 * Extends `stdio` so that descriptors the agent inherited without close-on-exec (from a supervisor
 * or shell; Node itself opens everything close-on-exec) arrive in bubblewrap as /dev/null: spawn
 * would pass them on, and bubblewrap passes every descriptor into the sandbox untouched.
 */
const maskInheritedFds = (stdio: ("pipe" | "ignore" | number)[]): void => {
  const leaked = inheritableFds(stdio.length);
  if (leaked.length === 0) return;
  devNullFd ??= openSync("/dev/null", "r");
  const last = leaked[leaked.length - 1] ?? 0;
  // "ignore" above fd 2 leaves a slot as it is (closed unless leaked), which is all we need.
  for (let fd = stdio.length; fd <= last; fd++) stdio.push(leaked.includes(fd) ? devNullFd : "ignore");
};

const hasLimits = (spec: SandboxSpec): boolean =>
  spec.limits !== undefined && Object.values(spec.limits).some((value) => value !== undefined);

/**
 * Starts `spec` as a bubblewrap sandbox (see `buildBwrapArgs` for the isolation it gets).
 *
 * With `network: "outbound"`, slirp4netns gives the sandbox's network namespace an interface
 * while the command is held the same way (see outbound-network.ts), so the command starts with
 * its network up; slirp4netns is stopped when the sandbox exits. If it cannot start, the sandbox
 * is killed before its command runs and `exited` carries the error.
 *
 * With `spec.limits`, a cgroup is created first; bubblewrap then stops before forking the command
 * (`--block-fd`) until the sandbox's pid 1 has been moved into that cgroup, so the command and all
 * its children are limited from their first instruction. The cgroup is removed on exit. (The
 * sandbox's cgroup namespace is created before that move, so inside, /proc/self/cgroup shows the
 * cgroup relative to the agent's, e.g. `/../../ferry/<id>`; /sys is not mounted inside.)
 *
 * `--die-with-parent` ties the sandbox to the thread that spawned it: start sandboxes from the
 * main thread (or a thread that lives as long as they should), not from a short-lived worker.
 *
 * Throws on an invalid spec, a missing bubblewrap, unmet limits with `requireLimits`, or
 * "outbound" where slirp4netns is missing or the agent is not root (never a silent "none").
 *
 * @example
 * ```ts
 * const sb = startSandbox({ id: "ct-1", rootfs: defaultNodeImageBinds(dirname(process.execPath)),
 *   argv: ["/opt/ferry/node/node", "/opt/ferry/runner.js"], network: "none", limits: { memoryMiB: 512 } });
 * sb.stdout.pipe(process.stdout);
 * sb.control.write("hello\n");
 * const { code } = await sb.exited;
 * ```
 */
export const startSandbox = (spec: SandboxSpec, options: StartSandboxOptions = {}): Sandbox => {
  const bwrapPath = options.bwrapPath ?? DEFAULT_BWRAP_PATH;
  buildBwrapArgs(spec); // validate before creating anything on the host
  if (!existsSync(bwrapPath)) throw new Error(`bubblewrap not found at ${bwrapPath}`);
  const outbound = spec.network === "outbound";
  if (outbound) assertOutboundNetworkAvailable({ slirp4netnsPath: options.slirp4netnsPath });

  const limits = hasLimits(spec) && spec.limits !== undefined ? createCgroup(spec.id, spec.limits, { parent: options.cgroupParent }) : undefined;
  const cgroup: Cgroup | undefined = limits?.applied === true ? limits.cgroup : undefined;
  if (options.requireLimits === true && limits !== undefined && (!limits.applied || limits.skipped.length > 0)) {
    void cgroup?.remove().catch(() => undefined);
    const reasons = limits.applied ? limits.skipped.map((s) => `${s.limit}: ${s.reason}`).join("; ") : limits.reason;
    throw new Error(`sandbox ${spec.id}: limits cannot be applied: ${reasons}`);
  }

  // The command is held while the launcher has something to do first: a cgroup to join, a network to attach.
  const holds = cgroup !== undefined || outbound;
  const args = buildBwrapArgs(spec, { infoFd: INFO_FD, blockFd: holds ? BLOCK_FD : undefined, resolvConfFd: outbound ? RESOLV_CONF_FD : undefined });
  // Options travel through --args; the command stays on the command line (where `ps` shows it).
  const commandAt = args.length - spec.argv.length - 1;
  const optionData = Buffer.from(args.slice(0, commandAt).map((arg) => `${arg}\0`).join(""));
  const stdio: ("pipe" | "ignore" | number)[] = ["pipe", "pipe", "pipe", "pipe", "pipe", "pipe"];
  if (holds) stdio.push("pipe");
  if (outbound) stdio.push("pipe");
  maskInheritedFds(stdio);
  const hostUser = hostUserOf(options.hostUser);

  const child = spawn(bwrapPath, ["--args", String(ARGS_FD), ...args.slice(commandAt)], {
    stdio,
    // bubblewrap needs no environment (and gives the sandbox none but --setenv's).
    env: {},
    cwd: "/",
    ...(hostUser === undefined ? {} : { uid: hostUser.uid, gid: hostUser.gid }),
  });
  let launchError: Error | undefined;
  child.on("error", (error) => {
    launchError ??= error;
  });
  const bwrapPid = child.pid;
  if (bwrapPid === undefined) {
    void cgroup?.remove().catch(() => undefined);
    throw new Error(`could not spawn ${bwrapPath} for sandbox ${spec.id}`);
  }

  const stdin = child.stdin;
  const stdout = child.stdout;
  const stderr = child.stderr;
  if (stdin === null || stdout === null || stderr === null) throw new Error("sandbox stdio missing");
  const control = duplexAt(child.stdio, CONTROL_FD);
  const argsChannel = duplexAt(child.stdio, ARGS_FD);
  const infoChannel = duplexAt(child.stdio, INFO_FD);
  const blockChannel = holds ? duplexAt(child.stdio, BLOCK_FD) : undefined;
  const resolvChannel = outbound ? duplexAt(child.stdio, RESOLV_CONF_FD) : undefined;
  // A sandbox ending while we write is normal (EPIPE/ECONNRESET); its end is reported by `exited`.
  for (const stream of [stdin, control, argsChannel, infoChannel, blockChannel, resolvChannel]) stream?.on("error", () => undefined);
  argsChannel.end(optionData);
  resolvChannel?.end(OUTBOUND_RESOLV_CONF);

  let exited = false;
  // The sandbox's pid 1 (host pid) and its start time, which guards every signal against pid reuse.
  let init: { pid: number; startTime: string } | undefined;
  // A kill asked for before bubblewrap named its pid 1: carried out as soon as it does.
  let killRequested = false;
  let killFallback: NodeJS.Timeout | undefined;
  // "outbound": the network stack while it starts and runs (undefined when it could not start).
  let network: Promise<OutboundNetwork | undefined> | undefined;

  /** `true` once pid 1 is in the cgroup (or there is none); `false` when it cannot be (the caller then kills it). */
  const placeInCgroup = async (initPid: number, startTime: string): Promise<boolean> => {
    if (cgroup === undefined) return true;
    try {
      // Only pid 1: the command it forks once released is born in the cgroup, with all its
      // descendants. bubblewrap's outer monitor stays with the agent (a migration is the costly part).
      await cgroup.addProcess(initPid);
      return true;
    } catch (error) {
      // ESRCH: bubblewrap already failed (its message is on stderr); there is nothing to limit.
      if (errorCode(error) !== "ESRCH") launchError ??= new Error(`sandbox ${spec.id}: cannot place it in its cgroup: ${errorText(error)}`);
      return false;
    }
  };

  /** `true` once the network is up (or none was asked for); `false` when it could not start. */
  const attachNetwork = async (initPid: number, startTime: string): Promise<boolean> => {
    if (!outbound) return true;
    // Ended meanwhile: the exit handler has looked for a network already, so start none.
    if (exited || killRequested) return false;
    // slirp4netns configures the namespace only once bubblewrap is done with its loopback (see waitForSandboxLoopback).
    network = waitForSandboxLoopback(initPid, startTime)
      .then(() => (exited || killRequested ? undefined : startOutboundNetwork(initPid, { slirp4netnsPath: options.slirp4netnsPath })))
      .catch((error: unknown) => {
        // Gone already (killed, or bubblewrap failed): nothing to report but how it ended.
        if (!exited && !killRequested && isRunning(initPid, startTime)) launchError ??= new Error(`sandbox ${spec.id}: ${errorText(error)}`);
        return undefined;
      });
    return (await network) !== undefined;
  };

  // Both at once (they touch different things), then the command may start.
  const prepareAndRelease = async (release: Duplex, initPid: number, startTime: string): Promise<void> => {
    const ready = await Promise.all([placeInCgroup(initPid, startTime), attachNetwork(initPid, startTime)]);
    if (killRequested || ready.includes(false)) signalIfSame(initPid, startTime, "SIGKILL");
    else release.end("x");
  };

  let info = "";
  let infoDone: () => void = () => undefined;
  const infoEnded = new Promise<void>((resolve) => (infoDone = resolve));
  infoChannel.setEncoding("utf8");
  infoChannel.on("data", (chunk: string) => {
    if (init !== undefined) return;
    info += chunk;
    const match = CHILD_PID_PATTERN.exec(info);
    if (match === null) return;
    const pid = Number(match[1]);
    init = { pid, startTime: processStartTime(pid) ?? "" };
    clearTimeout(killFallback);
    if (killRequested) signalIfSame(pid, init.startTime, "SIGKILL");
    else if (blockChannel !== undefined) void prepareAndRelease(blockChannel, pid, init.startTime);
  });
  infoChannel.on("end", () => infoDone());
  infoChannel.on("close", () => infoDone());
  infoChannel.resume();

  const exitedPromise = new Promise<SandboxExit>((resolve) => {
    const finish = async (code: number | null, signal: NodeJS.Signals | null): Promise<void> => {
      exited = true;
      clearTimeout(killFallback);
      // bubblewrap does not wait for its pid 1: it exits as soon as pid 1 reports the command's
      // status (or, killed by a signal, at once). Pid 1 then tears the pid namespace down (the
      // kernel kills whatever is left) before it exits; wait for that, so that `exited` means
      // nothing of the sandbox runs any more. The info may still be in flight if bubblewrap died early.
      if (init === undefined && signal !== null) await Promise.race([infoEnded, sleep(INFO_GRACE_MS)]);
      if (init !== undefined) {
        if (signal !== null) signalIfSame(init.pid, init.startTime, "SIGKILL");
        if (!(await waitUntilGone(init.pid, NAMESPACE_DRAIN_MS, init.startTime))) {
          signalIfSame(init.pid, init.startTime, "SIGKILL");
          await waitUntilGone(init.pid, NAMESPACE_DRAIN_MS, init.startTime);
        }
      }
      // The sandbox's network namespace is gone with it: its stack has nothing left to carry.
      await (await network)?.stop();
      let oomKilled: boolean | undefined;
      if (cgroup !== undefined) {
        const kills = cgroup.oomKills();
        if (kills !== undefined) oomKilled = kills > 0;
        try {
          await cgroup.remove();
        } catch (error) {
          launchError ??= error instanceof Error ? error : new Error(String(error));
        }
      }
      resolve({ code, signal, ...(oomKilled === undefined ? {} : { oomKilled }), ...(launchError === undefined ? {} : { error: launchError }) });
    };
    child.once("exit", (code, signal) => void finish(code, signal));
  });

  const kill = (signal: NodeJS.Signals = "SIGKILL"): void => {
    if (exited) return;
    if (init === undefined) {
      // bubblewrap names its pid 1 within milliseconds. Killing bubblewrap itself instead would
      // leave that pid 1 to die on its own, after `exited` and as an orphan of the host's init.
      killRequested = true;
      killFallback ??= setTimeout(() => signalQuietly(bwrapPid, "SIGKILL"), KILL_FALLBACK_MS).unref();
      return;
    }
    if (signal === "SIGKILL") {
      killRequested = true; // a start still in progress (network) goes no further
      // The pid namespace's init: the kernel kills the rest of the namespace, and bubblewrap exits
      // only after reaping it, so `exited` means nothing is left.
      signalIfSame(init.pid, init.startTime, "SIGKILL");
      return;
    }
    for (const pid of descendants(init.pid)) signalQuietly(pid, signal);
  };

  return { id: spec.id, pid: bwrapPid, stdin, stdout, stderr, control, exited: exitedPromise, limits, kill };
};
