/**
 * Run one build step's command in a bubblewrap sandbox over a step root (the materialised layers
 * below it, bound read-write at /), with the base's read-only binds on top. No Docker daemon.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/** A read-only host path, or a symlink, that the base adds to every step's root. */
export type BaseEntry = { readonly hostPath: string; readonly sandboxPath: string } | { readonly symlinkTo: string; readonly sandboxPath: string };

/** Lines of a failed step's log kept for its error. */
export const LOG_TAIL_LINES = 40;
/** PATH in build steps: Ferry's Node runtime first, then the usual system directories, then the tools the builder lends (npm). */
export const BUILD_PATH = "/opt/ferry/node:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/ferry/bin";
/** Paths inside a step root that are never part of a layer: the sandbox's own mounts. */
export const SANDBOX_MOUNT_PATHS = ["proc", "dev", "tmp", "sys", "ferry-build"] as const;

/** What a step runs and where. */
export interface StepRun {
  /** Step root on the host (materialised lower layers; the step's writes land here). */
  readonly root: string;
  readonly base: ReadonlyArray<BaseEntry>;
  /** Extra read-only binds (inputs such as the app bundle), usually under /ferry-build. */
  readonly inputs?: ReadonlyArray<{ readonly hostPath: string; readonly sandboxPath: string }>;
  /** argv inside the sandbox. */
  readonly argv: ReadonlyArray<string>;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Share the host network (package downloads); false gives an empty network namespace. */
  readonly network: boolean;
  /** Kill the step after this many milliseconds. */
  readonly timeoutMs: number;
  readonly onLine: (line: string) => void;
}

/** How a step ended. */
export interface StepResult {
  readonly exitCode: number;
  readonly timedOut: boolean;
  readonly tail: ReadonlyArray<string>;
}

/**
 * The bubblewrap argv of a step (pure). Runs as uid 0 of a fresh user namespace (so package
 * managers can write system paths of the step root) with its own pid/ipc/uts namespaces.
 *
 * @example
 * ```ts
 * spawn("bwrap", stepBwrapArgs(run));
 * ```
 */
export const stepBwrapArgs = (run: Omit<StepRun, "onLine" | "timeoutMs">): string[] => {
  const args = [
    "--unshare-user", "--uid", "0", "--gid", "0", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
    ...(run.network ? [] : ["--unshare-net"]),
    "--die-with-parent", "--new-session", "--hostname", "ferry-build",
    "--bind", run.root, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
  ];
  for (const e of run.base) {
    if ("symlinkTo" in e) args.push("--symlink", e.symlinkTo, e.sandboxPath);
    else args.push("--ro-bind", e.hostPath, e.sandboxPath);
  }
  for (const b of run.inputs ?? []) args.push("--ro-bind", b.hostPath, b.sandboxPath);
  args.push("--clearenv");
  for (const [k, v] of Object.entries(run.env)) args.push("--setenv", k, v);
  args.push("--chdir", run.cwd, "--", ...run.argv);
  return args;
};

/**
 * Run a step, streaming its output line by line; resolves with its exit code (never rejects on a
 * non-zero exit). Past `timeoutMs` the whole sandbox is killed.
 *
 * @example
 * ```ts
 * const r = await runStep({ root, base, argv: ["/bin/sh", "-c", "echo hi"], env: {}, cwd: "/", network: false, timeoutMs: 60_000, onLine: console.log });
 * ```
 */
export const runStep = (run: StepRun): Promise<StepResult> => {
  mkdirSync(join(run.root, run.cwd), { recursive: true });
  const tail: string[] = [];
  const push = (line: string) => {
    tail.push(line);
    if (tail.length > LOG_TAIL_LINES) tail.shift();
    run.onLine(line);
  };
  return new Promise((resolve, reject) => {
    const child = spawn("bwrap", stepBwrapArgs(run), { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, run.timeoutMs);
    const pending: Record<"out" | "err", string> = { out: "", err: "" };
    const feed = (which: "out" | "err") => (chunk: Buffer) => {
      const text = pending[which] + chunk.toString("utf8");
      const lines = text.split("\n");
      pending[which] = lines.pop() ?? "";
      for (const l of lines) push(l);
    };
    child.stdout.on("data", feed("out"));
    child.stderr.on("data", feed("err"));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`could not start bwrap (bubblewrap) for an image build step: ${e.message}; install bubblewrap`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      for (const which of ["out", "err"] as const) if (pending[which] !== "") push(pending[which]);
      resolve({ exitCode: code ?? (signal ? 128 + 9 : 1), timedOut, tail });
    });
  });
};
