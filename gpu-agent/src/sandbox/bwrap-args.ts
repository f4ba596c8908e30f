/**
 * The sandbox description (`SandboxSpec`) and its translation into a bubblewrap command line.
 *
 * `buildBwrapArgs` is pure: no file system access, no clock, no environment, so the exact flag set
 * that makes a container's isolation can be tested (and reviewed) as data.
 */

/** uid inside the sandbox: an ordinary user, never 0, so in-sandbox root semantics never apply. */
export const SANDBOX_UID = 1000;
/** gid inside the sandbox. */
export const SANDBOX_GID = 1000;
/** Name of the single user in the generated /etc/passwd. */
export const SANDBOX_USER = "ferry";
/** Where the Node runtime directory is mounted; `/opt/ferry/node/node` is the runtime. */
export const SANDBOX_NODE_DIR = "/opt/ferry/node";
/** PATH inside every sandbox (the spec's env may override it). */
export const DEFAULT_SANDBOX_PATH = `${SANDBOX_NODE_DIR}:/usr/bin:/bin`;
/** HOME inside every sandbox: the only writable place besides /dev is /tmp. */
export const DEFAULT_SANDBOX_HOME = "/tmp";
/** Working directory when the spec does not name one. */
export const DEFAULT_SANDBOX_CWD = "/tmp";
/** Hostname prefix; the rest is the start of the container id. */
export const HOSTNAME_PREFIX = "ferry-";
/** How many characters of the container id go into the hostname (kept well under HOST_NAME_MAX). */
const HOSTNAME_ID_CHARS = 16;
/** Container ids become hostnames and cgroup directory names, so they are restricted. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** POSIX-portable environment variable names. */
const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Mount points the builder creates itself; binds onto them would shadow the private mounts. */
const RESERVED_SANDBOX_PATHS = ["/", "/proc", "/dev", "/tmp"];

/** A host path mounted into the sandbox (read-only or read-write depending on the list it is in). */
export interface Bind {
  /** Absolute path on the host (bubblewrap follows a symlink here and mounts its target). */
  readonly hostPath: string;
  /** Absolute path inside the sandbox; missing parent directories are created. */
  readonly sandboxPath: string;
}

/** A symlink created inside the sandbox, e.g. the usrmerge links `/lib -> usr/lib`. */
export interface SandboxSymlink {
  /** The link's target, as `ln -s` takes it (relative targets resolve inside the sandbox). */
  readonly symlinkTo: string;
  /** Absolute path of the link inside the sandbox. */
  readonly sandboxPath: string;
}

/** One entry of an image: a read-only bind or a symlink. */
export type RootfsEntry = Bind | SandboxSymlink;

/**
 * Network mode of a sandbox. Both get a fresh network namespace with its own private loopback.
 *
 * - "none": nothing else; nothing outside the sandbox (not even the host's 127.0.0.1) is reachable.
 * - "outbound": the launcher also attaches a user-mode network stack (slirp4netns, see
 *   outbound-network.ts) before the command starts, and the sandbox's /etc/resolv.conf names its
 *   DNS forwarder. Outbound connections work; the host's loopback stays unreachable.
 */
export type SandboxNetwork = "none" | "outbound";

/** The network modes, for validation. */
export const SANDBOX_NETWORKS: ReadonlyArray<SandboxNetwork> = ["none", "outbound"];

/** Resource limits applied through a per-container cgroup (see cgroup.ts). */
export interface SandboxLimits {
  /** Memory limit in MiB (RAM; swap is disabled for the cgroup where the kernel allows it). */
  readonly memoryMiB?: number;
  /** CPU quota in cores, fractional allowed (0.5 = half a core of CPU time per period). */
  readonly cpu?: number;
  /** Maximum number of tasks (processes and threads; Node alone uses about a dozen). */
  readonly pids?: number;
}

/** Everything needed to start one container as a bubblewrap sandbox. */
export interface SandboxSpec {
  /** Container id; used for the hostname and the cgroup name. `[A-Za-z0-9][A-Za-z0-9_.-]*`, ≤128. */
  readonly id: string;
  /** The image: read-only binds and symlinks making up the root file system (see `defaultNodeImageBinds`). */
  readonly rootfs: readonly RootfsEntry[];
  /** Extra read-only binds mounted after the image, /proc, /dev and /tmp (e.g. the runner and the bundle). */
  readonly readOnlyBinds?: readonly Bind[];
  /** Read-write binds (volumes). Empty by default: the sandbox can then only write to /tmp and /dev. */
  readonly readWriteBinds?: readonly Bind[];
  /**
   * Environment inside the sandbox. The sandbox starts from an empty environment; it gets these
   * variables plus PATH and HOME defaults (overridable here). bubblewrap itself also sets PWD.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory inside the sandbox (default /tmp). */
  readonly cwd?: string;
  /** Command inside the sandbox; argv[0] is looked up in the sandbox's PATH. */
  readonly argv: readonly string[];
  /** Network mode: "none" (a private loopback only) or "outbound" (see SandboxNetwork). */
  readonly network: SandboxNetwork;
  /** Resource limits (cgroup); absent means no per-container limits. */
  readonly limits?: SandboxLimits;
  /** Host device nodes bound at the same path inside (e.g. /dev/nvidia0 later); default none. */
  readonly devices?: readonly string[];
  /** Size limit of the private /tmp in MiB; default: the kernel's tmpfs default (half of RAM, charged to the memory cgroup). */
  readonly tmpSizeMiB?: number;
}

/** Descriptors bubblewrap uses to talk to the launcher; decided by the launcher, not the spec. */
export interface BwrapLauncherFds {
  /** bubblewrap writes `{"child-pid": N}` here: the host pid of the sandbox's pid-1. */
  readonly infoFd?: number;
  /** bubblewrap waits for one byte here before forking the command (used to place it in a cgroup first). */
  readonly blockFd?: number;
  /** "outbound" only: bubblewrap reads the sandbox's /etc/resolv.conf from here (`--ro-bind-data`). */
  readonly resolvConfFd?: number;
}

/** `true` when the entry is a symlink rather than a bind. */
export const isSymlinkEntry = (entry: RootfsEntry): entry is SandboxSymlink => "symlinkTo" in entry;

/** The hostname a sandbox gets: `ferry-` and the start of its id, lower-cased. */
export const sandboxHostname = (id: string): string =>
  HOSTNAME_PREFIX + id.slice(0, HOSTNAME_ID_CHARS).toLowerCase().replace(/[^a-z0-9-]/g, "-");

/** Throws when `id` cannot serve as a hostname part and a cgroup directory name. */
export const assertValidSandboxId = (id: string): void => {
  if (!ID_PATTERN.test(id) || id.includes("..")) {
    throw new TypeError(`invalid sandbox id ${JSON.stringify(id)}: expected ${ID_PATTERN}`);
  }
};

// bubblewrap reads NUL-separated arguments from a descriptor (see sandbox.ts), so a NUL would
// split an argument silently; reject it here, where the spec is checked.
const assertNoNul = (value: string, what: string): void => {
  if (value.includes("\0")) throw new TypeError(`${what} contains a NUL character`);
};

const assertAbsolute = (path: string, what: string): void => {
  assertNoNul(path, what);
  if (!path.startsWith("/")) throw new TypeError(`${what} must be an absolute path, got ${JSON.stringify(path)}`);
  if (path.split("/").includes("..")) throw new TypeError(`${what} must not contain "..": ${JSON.stringify(path)}`);
};

const normalize = (path: string): string => (path.length > 1 ? path.replace(/\/+$/, "") : path);

const assertNotReserved = (sandboxPath: string, what: string): void => {
  if (RESERVED_SANDBOX_PATHS.includes(normalize(sandboxPath))) {
    throw new TypeError(`${what} must not be mounted over ${sandboxPath}`);
  }
};

/** The environment a sandbox gets: the defaults, then the spec's variables on top. */
export const sandboxEnv = (spec: SandboxSpec): Record<string, string> => {
  const env: Record<string, string> = { PATH: DEFAULT_SANDBOX_PATH, HOME: DEFAULT_SANDBOX_HOME };
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME_PATTERN.test(name)) throw new TypeError(`invalid environment variable name ${JSON.stringify(name)}`);
    assertNoNul(value, `environment variable ${name}`);
    env[name] = value;
  }
  return env;
};

/**
 * Translates a spec into bubblewrap's argv (without the `bwrap` itself): options, `--`, the command.
 * Throws `TypeError` on an invalid spec (bad id, relative paths, NUL characters, empty argv, binds
 * over /, /proc, /dev or /tmp, non-positive tmp size).
 *
 * What the flags give: new user, pid, ipc, uts, net and cgroup namespaces; no nested user
 * namespaces (`--disable-userns`, shrinking the kernel surface reachable from inside); uid/gid
 * 1000 inside; all capabilities dropped; a new session (no controlling terminal, so no TIOCSTI
 * injection); death with the launcher; an empty environment but the given variables; a root that
 * is a read-only tmpfs holding only the image's binds and symlinks, a private /proc for the new pid
 * namespace, a minimal /dev and a private /tmp, the only writable places unless read-write binds
 * are given. For "outbound" with `fds.resolvConfFd`, /etc/resolv.conf is read from that descriptor.
 *
 * @example
 * ```ts
 * const args = buildBwrapArgs({ id: "ct-1", rootfs: defaultNodeImageBinds(dirname(process.execPath)),
 *   argv: ["node", "-e", "console.log(1)"], network: "none" });
 * spawn("bwrap", args);
 * ```
 */
export const buildBwrapArgs = (spec: SandboxSpec, fds: BwrapLauncherFds = {}): string[] => {
  assertValidSandboxId(spec.id);
  if (spec.argv.length === 0) throw new TypeError("argv must name a command");
  spec.argv.forEach((arg, i) => assertNoNul(arg, `argv[${i}]`));
  if (!SANDBOX_NETWORKS.includes(spec.network)) {
    throw new TypeError(`unknown network mode ${JSON.stringify(spec.network)}`);
  }
  const cwd = spec.cwd ?? DEFAULT_SANDBOX_CWD;
  assertAbsolute(cwd, "cwd");

  const args: string[] = [
    // Explicit namespaces instead of --unshare-all: it reads as the isolation list, and
    // --unshare-cgroup fails loudly where --unshare-all would silently skip it.
    "--unshare-user",
    "--disable-userns",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    // Both network modes: a new network namespace with only its own loopback; "outbound" gets its
    // interface from the launcher, added from outside (see SandboxNetwork).
    "--unshare-net",
    "--unshare-cgroup",
    "--uid", String(SANDBOX_UID),
    "--gid", String(SANDBOX_GID),
    "--hostname", sandboxHostname(spec.id),
    "--die-with-parent",
    "--new-session",
    "--cap-drop", "ALL",
    "--clearenv",
  ];
  for (const [name, value] of Object.entries(sandboxEnv(spec))) args.push("--setenv", name, value);

  // The image first; the private mounts next; the extra binds last, so a bind may live under /tmp.
  for (const entry of spec.rootfs) {
    if (isSymlinkEntry(entry)) {
      assertAbsolute(entry.sandboxPath, "rootfs symlink path");
      assertNoNul(entry.symlinkTo, "rootfs symlink target");
      assertNotReserved(entry.sandboxPath, "rootfs symlink");
      args.push("--symlink", entry.symlinkTo, entry.sandboxPath);
    } else {
      assertAbsolute(entry.hostPath, "rootfs hostPath");
      assertAbsolute(entry.sandboxPath, "rootfs sandboxPath");
      assertNotReserved(entry.sandboxPath, "rootfs bind");
      args.push("--ro-bind", entry.hostPath, entry.sandboxPath);
    }
  }

  args.push("--proc", "/proc", "--dev", "/dev");
  if (spec.tmpSizeMiB !== undefined) {
    if (!Number.isInteger(spec.tmpSizeMiB) || spec.tmpSizeMiB <= 0) throw new TypeError("tmpSizeMiB must be a positive integer");
    args.push("--size", String(spec.tmpSizeMiB * 1024 * 1024));
  }
  args.push("--tmpfs", "/tmp");

  for (const bind of spec.readOnlyBinds ?? []) {
    assertAbsolute(bind.hostPath, "read-only bind hostPath");
    assertAbsolute(bind.sandboxPath, "read-only bind sandboxPath");
    assertNotReserved(bind.sandboxPath, "read-only bind");
    args.push("--ro-bind", bind.hostPath, bind.sandboxPath);
  }
  for (const bind of spec.readWriteBinds ?? []) {
    assertAbsolute(bind.hostPath, "read-write bind hostPath");
    assertAbsolute(bind.sandboxPath, "read-write bind sandboxPath");
    assertNotReserved(bind.sandboxPath, "read-write bind");
    args.push("--bind", bind.hostPath, bind.sandboxPath);
  }
  // After --dev /dev: that mount is a fresh tmpfs and would hide device binds made before it.
  for (const device of spec.devices ?? []) {
    assertAbsolute(device, "device");
    if (!device.startsWith("/dev/")) throw new TypeError(`device ${JSON.stringify(device)} must be under /dev/`);
    args.push("--dev-bind", device, device);
  }

  // Last of the binds, so it covers the image's (the host's) resolv.conf: slirp's DNS forwarder.
  if (spec.network === "outbound" && fds.resolvConfFd !== undefined) args.push("--ro-bind-data", String(fds.resolvConfFd), "/etc/resolv.conf");

  // bubblewrap's root is a tmpfs writable by the sandbox user; freeze it once every mount point
  // (which bubblewrap creates on it) exists. Not recursive: /tmp, /dev and rw binds stay writable.
  args.push("--remount-ro", "/");
  args.push("--chdir", cwd);
  if (fds.infoFd !== undefined) args.push("--info-fd", String(fds.infoFd));
  if (fds.blockFd !== undefined) args.push("--block-fd", String(fds.blockFd));
  args.push("--", ...spec.argv);
  return args;
};
