/**
 * Small /proc readers used to find and reap a sandbox's processes from the host side.
 */
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Poll interval while waiting for a process to disappear. */
const GONE_POLL_MS = 5;

/** The fields of /proc/<pid>/stat after the command name: state, ppid... */
const statFields = (pid: number): string[] | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may itself contain spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
};

/**
 * `true` while `pid` exists and is not a zombie (a zombie has finished everything it will do);
 * with `startTime`, only while it is still that same process.
 */
export const isRunning = (pid: number, startTime?: string): boolean => {
  const fields = statFields(pid);
  const state = fields?.[0];
  if (state === undefined || state === "Z" || state === "X") return false;
  return startTime === undefined || startTime === "" || fields?.[19] === startTime;
};

/** Waits until `pid` (started at `startTime`, if given) is gone or a zombie; `false` on timeout. */
export const waitUntilGone = async (pid: number, timeoutMs: number, startTime?: string): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid, startTime)) {
    if (Date.now() >= deadline) return false;
    await sleep(GONE_POLL_MS);
  }
  return true;
};

/** The start time of `pid` (clock ticks since boot): with the pid, it names one process for good. */
export const processStartTime = (pid: number): string | undefined => statFields(pid)?.[19];

/** Sends `signal` to `pid` only if it is still the process that started at `startTime`. */
export const signalIfSame = (pid: number, startTime: string, signal: NodeJS.Signals): void => {
  if (startTime === "" || processStartTime(pid) === startTime) signalQuietly(pid, signal);
};

/** Direct children of `pid` from /proc/<pid>/task/<tid>/children (needs CONFIG_PROC_CHILDREN). */
const childrenFromTasks = (pid: number): number[] | undefined => {
  try {
    const children: number[] = [];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text !== "") children.push(...text.split(" ").map(Number));
    }
    return children;
  } catch {
    return undefined;
  }
};

/** Direct children of every process, from a scan of /proc (fallback when `children` is missing). */
const childMap = (): Map<number, number[]> => {
  const map = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = Number(statFields(Number(name))?.[1]);
    if (!Number.isInteger(ppid)) continue;
    const list = map.get(ppid) ?? [];
    list.push(Number(name));
    map.set(ppid, list);
  }
  return map;
};

/** All descendants of `pid` (children first), as seen from this pid namespace. */
export const descendants = (pid: number): number[] => {
  const out: number[] = [];
  let scanned: Map<number, number[]> | undefined;
  const queue = [pid];
  // Pids are reused while we scan, so the parent links read from /proc can form a cycle.
  const visited = new Set<number>([pid]);
  while (queue.length > 0) {
    const current = queue.shift() ?? pid;
    let children = childrenFromTasks(current);
    if (children === undefined) {
      scanned ??= childMap();
      children = scanned.get(current) ?? [];
    }
    for (const child of children) {
      if (visited.has(child)) continue;
      visited.add(child);
      out.push(child);
      queue.push(child);
    }
  }
  return out;
};

/** Sends `signal` to `pid`, ignoring a process that is already gone. */
export const signalQuietly = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: it already exited, which is what a kill wants anyway.
  }
};

/** O_CLOEXEC in the octal `flags:` line of /proc/<pid>/fdinfo/<fd>. */
const O_CLOEXEC = 0o2000000;

/**
 * This process's descriptors ≥ `minFd` that lack close-on-exec, i.e. that every child inherits.
 * Node and libuv open everything close-on-exec, so these came from whoever started the agent
 * (a supervisor, a shell); bubblewrap would pass them into the sandbox untouched.
 */
export const inheritableFds = (minFd: number): number[] => {
  const fds: number[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc/self/fdinfo");
  } catch {
    return fds;
  }
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd < minFd) continue;
    try {
      const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0) fds.push(fd);
    } catch {
      // Closed meanwhile (e.g. the directory handle of this very scan).
    }
  }
  return fds.sort((a, b) => a - b);
};
