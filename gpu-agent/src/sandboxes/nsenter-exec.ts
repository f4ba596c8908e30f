import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { constants } from "node:os";
import { NOT_RUNNABLE_EXIT_CODE } from "@ferry/core";
import { SANDBOX_GID, SANDBOX_UID } from "../sandbox/index.ts";
import { shellQuote, withPty } from "./exec-argv.ts";
import type { ExecHandle, ExecSink } from "./exec-server-connection.ts";

/** nsenter from util-linux (Debian's path). */
export const NSENTER_PATH = "/usr/bin/nsenter";
/** How long output still in the pipes may take to arrive after the process exited. */
const OUTPUT_DRAIN_MS = 200;
/** Where the host shell that joins the container's cgroup before entering it lives. */
const HOST_SHELL = "/bin/sh";
/** The shell inside the container that takes the process's environment from fd 3 (never argv, which `ps` shows). */
const CONTAINER_SHELL = "/bin/sh";
/** The descriptor the environment arrives on. */
const ENV_FD = 3;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A function container as the host sees it: bubblewrap's pid and the container's cgroup directories. */
export interface EnterableContainer {
  /** Host pid of the outer bubblewrap process (`Sandbox.pid`). */
  readonly bwrapPid: number;
  /** The container's cgroup directories (one per v1 hierarchy), joined before entering; may be empty. */
  readonly cgroupDirs: ReadonlyArray<string>;
  /**
   * The container's environment, when its command did not start with it (a warm pool sandbox gets
   * it after start, see warm-pool/); otherwise the command's own is read from /proc.
   */
  readonly env?: Readonly<Record<string, string>>;
}

const childrenOf = (pid: number): number[] => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number));
  } catch {
    return [];
  }
};

/** The environment of process `pid` (its command's, e.g. FERRY_* and PATH). */
const environOf = (pid: number): Record<string, string> => {
  try {
    const env: Record<string, string> = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return {};
  }
};

/**
 * The host command line that runs `argv` inside a container: join its cgroup directories (so
 * its limits hold), then `nsenter` its user, mount, pid, ipc, uts, net and cgroup namespaces as
 * the sandbox user, at its root, in `cwd`; there a shell reads the process's environment from
 * fd 3 (`exportLines`) and becomes `argv`. The host side runs with an empty environment: nothing
 * the user chose (LD_PRELOAD…) reaches a host process. Pure: pids and paths in, argv out.
 *
 * @example
 * ```ts
 * enterArgv(4242, ["/sys/fs/cgroup/pids/ferry/ct-1"], ["cat", "/tmp/x"], "/opt/ferry/app");
 * ```
 */
export const enterArgv = (initPid: number, cgroupDirs: ReadonlyArray<string>, argv: ReadonlyArray<string>, cwd: string): string[] => [
  HOST_SHELL, "-c", 'while [ "$1" != "--" ]; do echo $$ > "$1/cgroup.procs" || exit 126; shift; done; shift; exec "$@"', "ferry-enter",
  ...cgroupDirs, "--",
  NSENTER_PATH, "-t", String(initPid), "-U", "-m", "-p", "-i", "-u", "-n", "-C",
  "-S", String(SANDBOX_UID), "-G", String(SANDBOX_GID), "-r", "-W", cwd, "--",
  CONTAINER_SHELL, "-c", `eval "$(cat <&${ENV_FD})"; exec ${ENV_FD}<&-; exec "$@"`, "ferry-exec", ...argv,
];

/** An environment as `export NAME='value'` lines for the container's shell (names that are not variable names are left out). */
export const exportLines = (env: Readonly<Record<string, string>>): string =>
  Object.entries(env).filter(([name]) => ENV_NAME.test(name)).map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join("");

/**
 * Run a second process in a live function container (`ferry container exec`): bubblewrap runs
 * one command per sandbox, so the agent enters the container's namespaces from the host with
 * nsenter (as root, or as the user that owns the container's user namespace). The process gets
 * the container's environment and the sandbox user, and is killed with the container.
 *
 * @example
 * ```ts
 * const handle = enterContainer({ bwrapPid: sandbox.pid, cgroupDirs }, { argv: ["ls"], env: {}, cwd: "/opt/ferry/app", pty: false }, sink);
 * ```
 */
export const enterContainer = (
  target: EnterableContainer,
  spec: { readonly argv: ReadonlyArray<string>; readonly env: Readonly<Record<string, string>>; readonly cwd: string; readonly pty: boolean },
  sink: ExecSink,
): ExecHandle => {
  const noop: ExecHandle = { writeStdin: () => {}, endStdin: () => {}, kill: () => {} };
  // bubblewrap → the sandbox's pid 1 → the container's command.
  const initPid = childrenOf(target.bwrapPid)[0];
  const commandPid = initPid === undefined ? undefined : childrenOf(initPid)[0];
  if (initPid === undefined || commandPid === undefined) {
    sink.exit({ code: NOT_RUNNABLE_EXIT_CODE, signal: null, reason: "the container is not running" });
    return noop;
  }
  const argv = enterArgv(initPid, target.cgroupDirs, spec.pty ? withPty(spec.argv) : spec.argv, spec.cwd);
  const child = spawn(argv[0]!, argv.slice(1), {
    env: {},
    stdio: ["pipe", "pipe", "pipe", "pipe"],
    // A session of its own: never the agent's terminal.
    detached: true,
  });
  child.stdin.on("error", () => undefined);
  const envChannel = child.stdio[ENV_FD] as NodeJS.WritableStream & { on(e: "error", f: () => void): void };
  envChannel.on("error", () => undefined);
  envChannel.end(exportLines({ ...(target.env ?? environOf(commandPid)), ...spec.env }));
  child.stdout.on("data", (b: Buffer) => sink.output("stdout", b));
  child.stderr.on("data", (b: Buffer) => sink.output("stderr", b));
  let done = false;
  child.on("error", (e) => {
    if (done) return;
    done = true;
    sink.exit({ code: NOT_RUNNABLE_EXIT_CODE, signal: null, reason: `cannot enter the container: ${e.message}` });
  });
  let open = 2;
  let drained: () => void = () => {};
  const outputDone = new Promise<void>((resolve) => (drained = resolve));
  for (const stream of [child.stdout, child.stderr]) stream.on("close", () => --open === 0 && drained());
  child.on("exit", (code, signal) => {
    // Output a background process still holds open must not hold the exit back for long.
    void Promise.race([outputDone, new Promise((r) => setTimeout(r, OUTPUT_DRAIN_MS))]).then(() => {
      if (done) return;
      done = true;
      sink.exit({ code: signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 0), signal });
    });
  });
  return {
    writeStdin: (bytes) => child.stdin.write(bytes),
    endStdin: () => child.stdin.end(),
    kill: (signal) => child.kill(signal),
  };
};
