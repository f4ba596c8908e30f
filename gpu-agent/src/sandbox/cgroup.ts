/**
 * Per-container cgroups: memory, pids and CPU limits on cgroup v1 (one directory per controller
 * hierarchy, e.g. /sys/fs/cgroup/memory/ferry/<id>) or v2 (/sys/fs/cgroup/ferry/<id>, controllers
 * enabled through cgroup.subtree_control), whichever the host has. Best effort: every limit that
 * cannot be applied is reported with its reason, and nothing throws for an unwritable cgroup fs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { SandboxLimits } from "./bwrap-args.ts";

/** Directory (relative to each hierarchy's mount point) that holds the per-container cgroups. */
export const DEFAULT_CGROUP_PARENT = "ferry";
/** CFS period for CPU quotas, µs (the kernel's default period). */
export const CPU_PERIOD_US = 100_000;
/** Smallest CFS quota the kernel accepts, µs. */
const MIN_CPU_QUOTA_US = 1_000;
/** How long `remove` keeps killing and retrying rmdir before giving up. */
export const DEFAULT_REMOVE_TIMEOUT_MS = 5_000;
/** `sweepStaleCgroups` leaves younger cgroups alone: another agent may be about to fill them. */
export const DEFAULT_STALE_CGROUP_AGE_MS = 60_000;
/** Pause between `remove` attempts. */
const REMOVE_POLL_MS = 10;
const MIB = 1024 * 1024;
/** Same rule as sandbox ids: the id becomes a directory name. */
const CGROUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The controllers Ferry's limits use. */
export type CgroupController = "memory" | "pids" | "cpu";
/** Which limit needs which controller. */
const CONTROLLER_OF: Record<keyof SandboxLimits, CgroupController> = { memoryMiB: "memory", cpu: "cpu", pids: "pids" };
const LIMIT_NAMES = ["memoryMiB", "cpu", "pids"] as const;

/** Where the controllers are mounted on this host. */
export type CgroupLayout =
  | { readonly version: 1; readonly mounts: Readonly<Partial<Record<CgroupController, string>>> }
  | { readonly version: 2; readonly mount: string; readonly controllers: readonly CgroupController[] };

/** A limit that was requested but not applied, and why. */
export interface SkippedLimit {
  readonly limit: keyof SandboxLimits;
  readonly reason: string;
}

/** A created cgroup holding (some of) the requested limits. */
export interface Cgroup {
  readonly id: string;
  readonly version: 1 | 2;
  /** The directories created (one per v1 hierarchy, one on v2). */
  readonly paths: readonly string[];
  /**
   * Moves a process (all its threads) into the cgroup; children it forks afterwards are born
   * there. Rejects on failure (ESRCH if the process is gone). Asynchronous because a migration
   * can wait for an RCU grace period (~10 ms here), which must not stall the agent's event loop.
   */
  addProcess(pid: number): Promise<void>;
  /** Pids currently in the cgroup. */
  processes(): number[];
  /** How many times the kernel's OOM killer fired in this cgroup; undefined without a memory limit. */
  oomKills(): number | undefined;
  /** Kills every process left in the cgroup and removes its directories; rejects after `timeoutMs`. */
  remove(timeoutMs?: number): Promise<void>;
}

/** Outcome of `createCgroup`: which limits hold, and which do not and why. */
export type CgroupResult =
  | {
      readonly applied: true;
      readonly cgroup: Cgroup;
      readonly version: 1 | 2;
      /** The limits in force (a subset of those asked for). */
      readonly limits: SandboxLimits;
      /** The limits asked for but not in force. */
      readonly skipped: readonly SkippedLimit[];
    }
  | { readonly applied: false; readonly reason: string; readonly skipped: readonly SkippedLimit[] };

/** Options of `createCgroup`. */
export interface CgroupOptions {
  /** Parent directory relative to each hierarchy's mount point (default "ferry"). */
  readonly parent?: string;
  /** Layout to use instead of detecting it (tests, or a host with unusual mounts). */
  readonly layout?: CgroupLayout;
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const errorCode = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;

// mountinfo escapes space, tab, newline and backslash as octal.
const unescapeMountPath = (path: string): string => path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** Cgroup mounts listed in a /proc/self/mountinfo text: v1 mounts with their controllers, and v2 mounts. */
export const parseCgroupMounts = (mountinfo: string): { v1: Map<CgroupController, string>; v2: string[] } => {
  const v1 = new Map<CgroupController, string>();
  const v2: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const before = line.slice(0, sep).split(" ");
    const [fsType, , superOptions = ""] = line.slice(sep + 3).split(" ");
    const mountPoint = before[4];
    if (mountPoint === undefined) continue;
    if (fsType === "cgroup2") v2.push(unescapeMountPath(mountPoint));
    else if (fsType === "cgroup") {
      const options = superOptions.split(",");
      for (const controller of ["memory", "pids", "cpu"] as const) {
        // First mount wins: a hierarchy mounted twice is the same hierarchy.
        if (options.includes(controller) && !v1.has(controller)) v1.set(controller, unescapeMountPath(mountPoint));
      }
    }
  }
  return { v1, v2 };
};

const readControllers = (dir: string): CgroupController[] => {
  try {
    const listed = readFileSync(join(dir, "cgroup.controllers"), "utf8").trim().split(/\s+/);
    return (["memory", "pids", "cpu"] as const).filter((c) => listed.includes(c));
  } catch {
    return [];
  }
};

/**
 * Detects how this host mounts the memory, pids and cpu controllers. Any of them on a v1
 * hierarchy means v1 (hybrid hosts keep these on v1 and an empty v2 tree); otherwise the cgroup2
 * mount offering the most of them (the pure-v2 /sys/fs/cgroup on modern hosts). Undefined when
 * neither exists.
 */
export const detectCgroupLayout = (mountinfo?: string): CgroupLayout | undefined => {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/mountinfo", "utf8");
    } catch {
      return undefined;
    }
  }
  const { v1, v2 } = parseCgroupMounts(text);
  if (v1.size > 0) return { version: 1, mounts: Object.fromEntries(v1) };
  let best: { mount: string; controllers: CgroupController[] } | undefined;
  for (const mount of v2) {
    const controllers = readControllers(mount);
    if (best === undefined || controllers.length > best.controllers.length) best = { mount, controllers };
  }
  return best === undefined ? undefined : { version: 2, ...best };
};

const assertValidLimits = (limits: SandboxLimits): void => {
  if (limits.memoryMiB !== undefined && !(Number.isFinite(limits.memoryMiB) && limits.memoryMiB > 0)) {
    throw new TypeError(`memoryMiB must be a positive number, got ${limits.memoryMiB}`);
  }
  if (limits.cpu !== undefined && !(Number.isFinite(limits.cpu) && limits.cpu > 0)) {
    throw new TypeError(`cpu must be a positive number of cores, got ${limits.cpu}`);
  }
  if (limits.pids !== undefined && !(Number.isInteger(limits.pids) && limits.pids > 0)) {
    throw new TypeError(`pids must be a positive integer, got ${limits.pids}`);
  }
};

const memoryBytes = (mib: number): number => Math.floor(mib * MIB);
const cpuQuotaUs = (cores: number): number => Math.max(MIN_CPU_QUOTA_US, Math.round(cores * CPU_PERIOD_US));

/** Writes `value` to a control file; returns an error text, or undefined on success. */
const tryWrite = (file: string, value: string): string | undefined => {
  try {
    writeFileSync(file, value);
    return undefined;
  } catch (error) {
    return `write ${value.trim()} to ${file}: ${errorText(error)}`;
  }
};

/**
 * Creates `relative` under `base` level by level, tolerating existing levels; returns an error text.
 * Not `mkdirSync({ recursive: true })`: on some pseudo file systems (seen on /proc) it retries
 * forever when the kernel answers ENOENT for a parent that exists.
 */
const makeDirs = (base: string, relative: string): string | undefined => {
  let dir = base;
  for (const part of relative.split("/")) {
    dir = join(dir, part);
    try {
      mkdirSync(dir);
    } catch (error) {
      if (errorCode(error) !== "EEXIST") return `mkdir ${dir}: ${errorText(error)}`;
    }
  }
  return undefined;
};

/** Creates a cgroup directory; an existing empty one (left by a crashed agent) is reused. */
const makeLeaf = (dir: string): string | undefined => {
  try {
    mkdirSync(dir);
    return undefined;
  } catch (error) {
    if (errorCode(error) !== "EEXIST") return `mkdir ${dir}: ${errorText(error)}`;
    const procs = readProcs(dir);
    return procs.length === 0 ? undefined : `${dir} already exists and holds processes ${procs.join(",")}`;
  }
};

const readProcs = (dir: string): number[] => {
  try {
    return readFileSync(join(dir, "cgroup.procs"), "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map(Number);
  } catch {
    return [];
  }
};

const readOomKills = (file: string): number | undefined => {
  try {
    const match = /^oom_kill (\d+)$/m.exec(readFileSync(file, "utf8"));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
};

const killAll = (pids: readonly number[]): void => {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone (ESRCH): exactly what we want.
    }
  }
};

const removeDirs = async (dirs: readonly string[], killFile: string | undefined, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  let remaining = [...dirs];
  let lastError = "";
  while (remaining.length > 0) {
    const pids = [...new Set(remaining.flatMap(readProcs))];
    if (pids.length > 0) {
      // cgroup.kill (v2, Linux 5.14+) kills atomically, including processes forking meanwhile.
      if (killFile === undefined || tryWrite(killFile, "1") !== undefined) killAll(pids);
      lastError = `processes left: ${pids.join(",")}`;
    } else {
      remaining = remaining.filter((dir) => {
        try {
          rmdirSync(dir);
          return false;
        } catch (error) {
          if (errorCode(error) === "ENOENT") return false;
          lastError = `rmdir ${dir}: ${errorText(error)}`;
          return true; // EBUSY while exiting tasks are still being detached
        }
      });
      if (remaining.length === 0) return;
    }
    if (Date.now() >= deadline) throw new Error(`could not remove cgroup ${remaining.join(", ")}: ${lastError}`);
    await sleep(REMOVE_POLL_MS);
  }
};

const validParent = (parent: string): string => {
  const parts = parent.split("/").filter((p) => p !== "");
  if (parts.length === 0 || parts.some((p) => p === "." || p === "..")) throw new TypeError(`invalid cgroup parent ${JSON.stringify(parent)}`);
  return parts.join("/");
};

const requestedLimits = (limits: SandboxLimits): (keyof SandboxLimits)[] => LIMIT_NAMES.filter((name) => limits[name] !== undefined);

/** v1: one directory per hierarchy (controllers sharing a mount, like cpu,cpuacct, share it). */
const createV1 = (
  id: string,
  limits: SandboxLimits,
  parent: string,
  mounts: Readonly<Partial<Record<CgroupController, string>>>,
): CgroupResult => {
  const skipped: SkippedLimit[] = [];
  const applied: { memoryMiB?: number; cpu?: number; pids?: number } = {};
  const dirs = new Map<CgroupController, string>();
  const created = new Set<string>();
  for (const limit of requestedLimits(limits)) {
    const controller = CONTROLLER_OF[limit];
    const mount = mounts[controller];
    if (mount === undefined) {
      skipped.push({ limit, reason: `no cgroup v1 hierarchy has the ${controller} controller` });
      continue;
    }
    const dir = join(mount, parent, id);
    let error: string | undefined;
    if (!created.has(dir)) {
      error = makeDirs(mount, parent) ?? makeLeaf(dir);
      if (error === undefined) created.add(dir);
    }
    if (error === undefined) {
      if (limit === "memoryMiB" && limits.memoryMiB !== undefined) {
        const bytes = String(memoryBytes(limits.memoryMiB));
        error = tryWrite(join(dir, "memory.limit_in_bytes"), bytes);
        // memory+swap limit equal to the memory limit: no swapping past it. The file is missing
        // when swap accounting is off; then the RAM limit alone applies.
        const memsw = join(dir, "memory.memsw.limit_in_bytes");
        if (error === undefined && existsSync(memsw)) tryWrite(memsw, bytes);
      } else if (limit === "cpu" && limits.cpu !== undefined) {
        error = tryWrite(join(dir, "cpu.cfs_period_us"), String(CPU_PERIOD_US)) ?? tryWrite(join(dir, "cpu.cfs_quota_us"), String(cpuQuotaUs(limits.cpu)));
      } else if (limit === "pids" && limits.pids !== undefined) {
        error = tryWrite(join(dir, "pids.max"), String(limits.pids));
      }
    }
    if (error === undefined) {
      applied[limit] = limits[limit];
      dirs.set(controller, dir);
    } else {
      skipped.push({ limit, reason: error });
    }
  }
  // Directories whose limits all failed are removed again.
  const used = new Set(dirs.values());
  for (const dir of created) {
    if (!used.has(dir)) {
      try {
        rmdirSync(dir);
      } catch {
        // Best effort; an empty leftover is reused or ignored next time.
      }
    }
  }
  if (used.size === 0) return { applied: false, reason: skipped.map((s) => `${s.limit}: ${s.reason}`).join("; "), skipped };
  const paths = [...used];
  const memoryDir = dirs.get("memory");
  const cgroup: Cgroup = {
    id,
    version: 1,
    paths,
    addProcess: async (pid) => {
      // One hierarchy after the other: a failure leaves the process in a known subset.
      for (const dir of paths) await writeFile(join(dir, "cgroup.procs"), String(pid));
    },
    processes: () => [...new Set(paths.flatMap(readProcs))],
    oomKills: () => (memoryDir === undefined ? undefined : readOomKills(join(memoryDir, "memory.oom_control"))),
    remove: (timeoutMs = DEFAULT_REMOVE_TIMEOUT_MS) => removeDirs(paths, undefined, timeoutMs),
  };
  return { applied: true, cgroup, version: 1, limits: applied, skipped };
};

/** Makes `controllers` available to the children of `dir`; returns the ones that failed, with why. */
const enableSubtree = (dir: string, controllers: readonly CgroupController[]): Map<CgroupController, string> => {
  const failed = new Map<CgroupController, string>();
  let enabled: string[] = [];
  try {
    enabled = readFileSync(join(dir, "cgroup.subtree_control"), "utf8").trim().split(/\s+/);
  } catch (error) {
    for (const c of controllers) failed.set(c, `read ${join(dir, "cgroup.subtree_control")}: ${errorText(error)}`);
    return failed;
  }
  for (const c of controllers) {
    if (enabled.includes(c)) continue;
    const error = tryWrite(join(dir, "cgroup.subtree_control"), `+${c}`);
    // EBUSY: `dir` holds processes itself (v2's no-internal-processes rule), typically a
    // container's cgroup root; the agent would have to move itself into a leaf first.
    if (error !== undefined) failed.set(c, error);
  }
  return failed;
};

/** v2: one directory; each controller must be enabled in every ancestor's subtree_control. */
const createV2 = (id: string, limits: SandboxLimits, parent: string, mount: string, available: readonly CgroupController[]): CgroupResult => {
  const skipped: SkippedLimit[] = [];
  const wanted = requestedLimits(limits);
  const unusable = new Map<CgroupController, string>();
  for (const limit of wanted) {
    const c = CONTROLLER_OF[limit];
    if (!available.includes(c)) unusable.set(c, `the ${c} controller is not available in ${mount}`);
  }
  const usable = (): CgroupController[] => wanted.map((l) => CONTROLLER_OF[l]).filter((c) => !unusable.has(c));

  // Walk from the mount point down to the parent, creating levels and enabling controllers.
  const levels = [mount];
  for (const part of parent.split("/")) levels.push(join(levels[levels.length - 1] ?? mount, part));
  const dir = join(mount, parent, id);
  let setupError: string | undefined;
  for (const [i, level] of levels.entries()) {
    if (i > 0) {
      try {
        mkdirSync(level);
      } catch (error) {
        if (errorCode(error) !== "EEXIST") {
          setupError = `mkdir ${level}: ${errorText(error)}`;
          break;
        }
      }
    }
    for (const [c, reason] of enableSubtree(level, usable())) unusable.set(c, reason);
  }
  setupError ??= makeLeaf(dir);
  if (setupError !== undefined) {
    const all = wanted.map((limit) => ({ limit, reason: setupError }));
    return { applied: false, reason: setupError, skipped: all };
  }

  const applied: { memoryMiB?: number; cpu?: number; pids?: number } = {};
  for (const limit of wanted) {
    const c = CONTROLLER_OF[limit];
    let error = unusable.get(c);
    if (error === undefined) {
      if (limit === "memoryMiB" && limits.memoryMiB !== undefined) {
        error = tryWrite(join(dir, "memory.max"), String(memoryBytes(limits.memoryMiB)));
        // No swap beyond the limit; the file is missing without swap accounting.
        if (error === undefined && existsSync(join(dir, "memory.swap.max"))) tryWrite(join(dir, "memory.swap.max"), "0");
      } else if (limit === "cpu" && limits.cpu !== undefined) {
        error = tryWrite(join(dir, "cpu.max"), `${cpuQuotaUs(limits.cpu)} ${CPU_PERIOD_US}`);
      } else if (limit === "pids" && limits.pids !== undefined) {
        error = tryWrite(join(dir, "pids.max"), String(limits.pids));
      }
    }
    if (error === undefined) applied[limit] = limits[limit];
    else skipped.push({ limit, reason: error });
  }
  if (skipped.length === wanted.length) {
    try {
      rmdirSync(dir);
    } catch {
      // Best effort; an empty leftover is reused next time.
    }
    return { applied: false, reason: skipped.map((s) => `${s.limit}: ${s.reason}`).join("; "), skipped };
  }
  const killFile = join(dir, "cgroup.kill");
  const cgroup: Cgroup = {
    id,
    version: 2,
    paths: [dir],
    addProcess: (pid) => writeFile(join(dir, "cgroup.procs"), String(pid)),
    processes: () => readProcs(dir),
    oomKills: () => (applied.memoryMiB === undefined ? undefined : readOomKills(join(dir, "memory.events"))),
    remove: (timeoutMs = DEFAULT_REMOVE_TIMEOUT_MS) => removeDirs([dir], existsSync(killFile) ? killFile : undefined, timeoutMs),
  };
  return { applied: true, cgroup, version: 2, limits: applied, skipped };
};

/**
 * Creates the cgroup of container `id` with the given limits (memory in MiB, CPU in fractional
 * cores as a CFS quota, a task count). Never throws for host conditions: an unwritable or absent
 * cgroup fs gives `{ applied: false, reason }`, and a limit whose controller is missing is listed
 * in `skipped`. Throws `TypeError` for an invalid id or invalid limit values.
 *
 * The cgroups sit under `<mount>/ferry/` at each hierarchy's top, outside the agent's own cgroup:
 * a leftover there never blocks removal of the cgroup the agent was started in. Pass `parent` to
 * nest them elsewhere (e.g. under a delegated v2 subtree).
 *
 * @example
 * ```ts
 * const cg = createCgroup("ct-1", { memoryMiB: 512, cpu: 0.5, pids: 256 });
 * if (cg.applied) { await cg.cgroup.addProcess(pid); ... await cg.cgroup.remove(); }
 * else console.warn(`no limits: ${cg.reason}`);
 * ```
 */
export const createCgroup = (id: string, limits: SandboxLimits, options: CgroupOptions = {}): CgroupResult => {
  if (!CGROUP_ID_PATTERN.test(id) || id.includes("..")) throw new TypeError(`invalid cgroup id ${JSON.stringify(id)}`);
  assertValidLimits(limits);
  const parent = validParent(options.parent ?? DEFAULT_CGROUP_PARENT);
  const wanted = requestedLimits(limits);
  if (wanted.length === 0) return { applied: false, reason: "no limits requested", skipped: [] };
  const layout = options.layout ?? detectCgroupLayout();
  if (layout === undefined) {
    const reason = "no cgroup file system is mounted";
    return { applied: false, reason, skipped: wanted.map((limit) => ({ limit, reason })) };
  }
  return layout.version === 1
    ? createV1(id, limits, parent, layout.mounts)
    : createV2(id, limits, parent, layout.mount, layout.controllers);
};

/** Options of `sweepStaleCgroups`. */
export interface SweepOptions {
  /** Parent directory relative to each hierarchy's mount point (default "ferry"). */
  readonly parent?: string;
  /** Layout to use instead of detecting it. */
  readonly layout?: CgroupLayout;
  /** Only cgroups created at least this long ago are removed (default 60 s). */
  readonly minAgeMs?: number;
}

/**
 * Removes empty per-container cgroups left behind by an agent that died before cleaning up (its
 * sandboxes died with it through --die-with-parent, its cgroups did not). Meant for agent start.
 * Cgroups holding processes, and young ones (another agent on the host may be between creating
 * one and moving a process in), are kept. Returns the removed directories; never throws.
 */
export const sweepStaleCgroups = (options: SweepOptions = {}): string[] => {
  const layout = options.layout ?? detectCgroupLayout();
  if (layout === undefined) return [];
  const parent = validParent(options.parent ?? DEFAULT_CGROUP_PARENT);
  const minAgeMs = options.minAgeMs ?? DEFAULT_STALE_CGROUP_AGE_MS;
  const bases = layout.version === 1 ? [...new Set(Object.values(layout.mounts))] : [layout.mount];
  const removed: string[] = [];
  for (const base of bases) {
    const dir = join(base, parent);
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && CGROUP_ID_PATTERN.test(e.name)).map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        if (Date.now() - statSync(path).mtimeMs < minAgeMs || readProcs(path).length > 0) continue;
        rmdirSync(path);
        removed.push(path);
      } catch {
        // Busy (child cgroups, exiting tasks) or gone meanwhile: leave it for the next sweep.
      }
    }
  }
  return removed;
};
