// The Ferry exec server: the first program in every sandbox (`Sandbox.create`). It restores the
// sandbox's snapshot if it was started from one, then starts the processes the agent asks for
// over fd 3 (`sb.exec`), streams their stdio both ways, and tars the writable directories for
// snapshots. It is bundled into one file and imports nothing but Node's own modules.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { constants } from "node:os";
import { SCRIPT_BINARY, withPty } from "./exec-argv.ts";
import { SNAPSHOT_IN_SANDBOX, type FromExecServer, type ToExecServer } from "./exec-protocol.ts";

/** How long output still in the pipes may take to arrive after a process exited. */
const OUTPUT_DRAIN_MS = 200;
/** A killed sandbox's children are the OOM killer's first choice, never the server. */
const CHILD_OOM_SCORE_ADJ = "1000";

const control = new Socket({ fd: 3, readable: true, writable: true });
const send = (m: FromExecServer) => control.write(`${JSON.stringify(m)}\n`);
const running = new Map<string, ChildProcess>();

const signalExitCode = (signal: NodeJS.Signals): number => 128 + (constants.signals[signal] ?? 0);

const startExec = (m: Extract<ToExecServer, { t: "exec" }>): void => {
  const env = { ...process.env, ...m.env };
  let argv = [...m.argv];
  if (m.pty && existsSync(SCRIPT_BINARY)) {
    env.TERM ??= "xterm-256color";
    argv = withPty(argv);
  }
  if (!existsSync(m.cwd)) {
    const message = `working directory ${m.cwd} does not exist`;
    send({ t: "out", id: m.id, stream: "stderr", data: Buffer.from(`ferry: ${message}\n`).toString("base64") });
    return void send({ t: "exit", id: m.id, code: 127, signal: null, error: message });
  }
  const child = spawn(argv[0]!, argv.slice(1), { cwd: m.cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  running.set(m.id, child);
  if (child.pid !== undefined) {
    try {
      writeFileSync(`/proc/${child.pid}/oom_score_adj`, CHILD_OOM_SCORE_ADJ);
    } catch {
      // Raising one's own child's score is always allowed; a child already gone needs none.
    }
  }
  child.stdin.on("error", () => undefined);
  let open = 2;
  let ended: (() => void) | undefined;
  const outputDone = new Promise<void>((resolve) => (ended = resolve));
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream].on("data", (chunk: Buffer) => send({ t: "out", id: m.id, stream, data: chunk.toString("base64") }));
    child[stream].on("close", () => {
      if (--open === 0) ended?.();
    });
  }
  let done = false;
  const finish = (exit: Omit<Extract<FromExecServer, { t: "exit" }>, "t" | "id">) => {
    if (done) return;
    done = true;
    running.delete(m.id);
    send({ t: "exit", id: m.id, ...exit });
  };
  child.on("error", (e: NodeJS.ErrnoException) => {
    const why = e.code === "ENOENT" ? "not found" : e.code === "EACCES" ? "permission denied" : e.message;
    const message = `cannot run ${JSON.stringify(argv[0])}: ${why}`;
    send({ t: "out", id: m.id, stream: "stderr", data: Buffer.from(`ferry: ${message}\n`).toString("base64") });
    finish({ code: 127, signal: null, error: message });
  });
  child.on("exit", (code, signal) => {
    // Output a background process still holds open must not hold the exit back for long.
    void Promise.race([outputDone, new Promise((r) => setTimeout(r, OUTPUT_DRAIN_MS))]).then(() =>
      finish({ code: signal ? signalExitCode(signal) : (code ?? 0), signal }));
  });
};

const snapshot = (id: string, paths: ReadonlyArray<string>): void => {
  const present = paths.filter((p) => existsSync(`/${p}`));
  const tar = spawn("tar", ["-C", "/", "-cf", "-", "--warning=no-file-ignored", "--warning=no-file-changed", ...present], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  tar.stdout.on("data", (chunk: Buffer) => send({ t: "snap_data", id, data: chunk.toString("base64") }));
  tar.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  tar.on("error", (e) => send({ t: "snap_end", id, error: `tar: ${e.message}` }));
  // 1: some file changed while it was read, the snapshot is still a consistent archive.
  tar.on("close", (code) => send(code === 0 || code === 1 ? { t: "snap_end", id } : { t: "snap_end", id, error: `tar exited with ${code}: ${err.trim()}` }));
};

const receive = (m: ToExecServer): void => {
  switch (m.t) {
    case "exec":
      startExec(m);
      break;
    case "stdin":
      running.get(m.id)?.stdin?.write(Buffer.from(m.data, "base64"));
      break;
    case "stdin_end":
      running.get(m.id)?.stdin?.end();
      break;
    case "kill":
      running.get(m.id)?.kill(m.signal);
      break;
    case "snapshot":
      snapshot(m.id, m.paths);
      break;
  }
};

const restoreSnapshot = (): string | undefined => {
  if (!existsSync(SNAPSHOT_IN_SANDBOX)) return undefined;
  const r = spawnSync("tar", ["-C", "/", "-xf", SNAPSHOT_IN_SANDBOX, "--no-same-owner", "--no-overwrite-dir"], { encoding: "utf8" });
  if (r.error) return `cannot restore the snapshot: tar: ${r.error.message}`;
  return r.status === 0 ? undefined : `cannot restore the snapshot: tar exited with ${r.status}: ${r.stderr.trim()}`;
};

let tail = "";
control.on("data", (chunk: Buffer) => {
  const lines = (tail + chunk.toString()).split("\n");
  tail = lines.pop() ?? "";
  for (const line of lines) if (line) receive(JSON.parse(line) as ToExecServer);
});
// The agent is gone: nothing can reach the sandbox any more.
control.on("close", () => process.exit(0));
control.on("error", () => process.exit(0));

const failure = restoreSnapshot();
send(failure === undefined ? { t: "ready" } : { t: "fatal", error: failure });
