/**
 * The default Ferry image "ferry/node": the host's system directories, a minimal /etc and the Node
 * runtime, all mounted read-only.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readlinkSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SANDBOX_GID, SANDBOX_NODE_DIR, SANDBOX_UID, SANDBOX_USER, type RootfsEntry } from "./bwrap-args.ts";

/** Name of the default image. */
export const DEFAULT_NODE_IMAGE = "ferry/node";
/** System directories taken from the host (usrmerge symlinks among them are recreated as symlinks). */
export const IMAGE_SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"] as const;
/**
 * The only host /etc entries the image shows: dynamic loader config, name resolution config, CA
 * certificates and the time zone. Everything else in /etc (shadow, ssh keys, the host's passwd...)
 * stays invisible.
 */
export const IMAGE_ETC_ENTRIES = [
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "nsswitch.conf",
  "hosts",
  "resolv.conf",
  "ssl/certs",
  "ca-certificates",
  "ca-certificates.conf",
  "localtime",
] as const;
/** Host directories whose content is in the image: a symlink pointing into them still resolves inside. */
const IMAGE_CONTENT_ROOTS = ["/usr/"];
/** Mode of the generated-files directory and files: readable by the unprivileged user bwrap runs as. */
const GENERATED_DIR_MODE = 0o755;
const GENERATED_FILE_MODE = 0o644;

/** Options of `defaultNodeImageBinds`. */
export interface NodeImageOptions {
  /**
   * Host directory for the generated /etc/passwd and /etc/group (created if missing, must then
   * belong to this user and not be writable by others). Default: `<tmpdir>/ferry-image-<uid>`.
   */
  readonly generatedDir?: string;
  /** Host /etc to take the entries from (default /etc); a test seam, nothing more. */
  readonly hostEtc?: string;
}

const PASSWD = `${SANDBOX_USER}:x:${SANDBOX_UID}:${SANDBOX_GID}:Ferry sandbox:/tmp:/usr/sbin/nologin\n`;
const GROUP = `${SANDBOX_USER}:x:${SANDBOX_GID}:\n`;

// One check-and-write per directory per process: the content never changes.
const preparedDirs = new Set<string>();

const prepareGeneratedDir = (dir: string): void => {
  // existsSync too: a temp-directory cleaner may have removed the files since.
  if (preparedDirs.has(dir) && existsSync(join(dir, "group"))) return;
  mkdirSync(dir, { recursive: true, mode: GENERATED_DIR_MODE });
  // The default lives in the shared temp directory: refuse a directory someone else planted there,
  // since its passwd would be shown to every sandbox.
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
    throw new Error(`refusing generated image directory ${dir}: not a directory owned by uid ${uid} and closed to others`);
  }
  // bwrap may run as an unprivileged user: it must be able to reach and read these files.
  chmodSync(dir, GENERATED_DIR_MODE);
  for (const [name, content] of [["passwd", PASSWD], ["group", GROUP]] as const) {
    // Write-then-rename: concurrent agents (or tests) never see a half-written file.
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, content, { mode: GENERATED_FILE_MODE });
    chmodSync(tmp, GENERATED_FILE_MODE);
    renameSync(tmp, join(dir, name));
  }
  preparedDirs.add(dir);
};

const lstatOrUndefined = (path: string): ReturnType<typeof lstatSync> | undefined => {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
};

/**
 * The entries of the default image "ferry/node" for this host:
 * - /usr as a read-only bind, and /bin, /sbin, /lib, /lib64 (...) as binds or, where the host has
 *   merged them into /usr (Debian 12), as the same symlinks (`/lib -> usr/lib`);
 * - a minimal /etc: the entries of IMAGE_ETC_ENTRIES that exist on the host (a symlink into /usr,
 *   such as /etc/localtime, stays a symlink so the time zone name is still readable), plus a
 *   generated passwd/group holding only the unprivileged user `ferry` (1000:1000);
 * - the Node runtime directory `nodeBinaryDir` (real path resolved) at /opt/ferry/node, so
 *   /opt/ferry/node/node runs inside.
 *
 * Does I/O: reads the host's layout and writes the generated passwd/group (see NodeImageOptions).
 *
 * @example
 * ```ts
 * const rootfs = defaultNodeImageBinds(dirname(process.execPath));
 * ```
 */
export const defaultNodeImageBinds = (nodeBinaryDir: string, options: NodeImageOptions = {}): RootfsEntry[] => {
  const entries: RootfsEntry[] = [];
  for (const dir of IMAGE_SYSTEM_DIRS) {
    const st = lstatOrUndefined(dir);
    if (st === undefined) continue;
    if (st.isSymbolicLink()) entries.push({ symlinkTo: readlinkSync(dir), sandboxPath: dir });
    else if (st.isDirectory()) entries.push({ hostPath: dir, sandboxPath: dir });
  }

  const hostEtc = options.hostEtc ?? "/etc";
  for (const name of IMAGE_ETC_ENTRIES) {
    const hostPath = join(hostEtc, name);
    const st = lstatOrUndefined(hostPath);
    if (st === undefined) continue;
    const sandboxPath = `/etc/${name}`;
    if (st.isSymbolicLink()) {
      let real: string;
      try {
        real = realpathSync(hostPath);
      } catch {
        continue; // dangling on the host: nothing to show
      }
      // A link into /usr resolves inside too: keep it a link (ICU reads the zone name from
      // /etc/localtime's target). Anything else (e.g. resolv.conf -> /run/...) is bound by content.
      // The original target is kept, not the resolved one: zone names differ along link chains.
      if (IMAGE_CONTENT_ROOTS.some((root) => real.startsWith(root))) entries.push({ symlinkTo: readlinkSync(hostPath), sandboxPath });
      else entries.push({ hostPath: real, sandboxPath });
    } else {
      entries.push({ hostPath, sandboxPath });
    }
  }

  const generatedDir = options.generatedDir ?? join(tmpdir(), `ferry-image-${process.getuid?.() ?? "user"}`);
  prepareGeneratedDir(generatedDir);
  entries.push({ hostPath: join(generatedDir, "passwd"), sandboxPath: "/etc/passwd" });
  entries.push({ hostPath: join(generatedDir, "group"), sandboxPath: "/etc/group" });

  const nodeDir = realpathSync(nodeBinaryDir);
  if (!existsSync(join(nodeDir, "node"))) throw new Error(`no node binary in ${nodeDir}`);
  entries.push({ hostPath: nodeDir, sandboxPath: SANDBOX_NODE_DIR });
  return entries;
};
