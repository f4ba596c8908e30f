import { constants } from "node:fs";
import { chmod, chown, copyFile, lchown, lstat, mkdir, realpath, symlink } from "node:fs/promises";
import { join } from "node:path";
import { diffVolumeManifests, type VolumeManifest } from "@ferry/core";
import type { ContentCache } from "./content-cache.ts";
import { readBlockInside, scanVolumeDirectory, StatCache } from "./scan-directory.ts";
import type { VolumeClient } from "./volume-client.ts";

/** What `vol.commit()` tells the container. */
export interface CommitOutcome {
  /** The version now published (unchanged when there was nothing to commit). */
  readonly version: number;
  /** Paths added, changed or removed. */
  readonly changed: number;
  /** Blocks and bytes actually uploaded: contents the store already held are never sent. */
  readonly uploadedBlocks: number;
  readonly uploadedBytes: number;
  /** Sockets, FIFOs and devices left out. */
  readonly skipped: ReadonlyArray<string>;
}

/** One step of a reload, applied by the runner inside the sandbox (as the sandbox's user). */
export type ReloadOp =
  | { readonly op: "write"; readonly path: string; readonly source: string; readonly mode: number }
  | { readonly op: "symlink"; readonly path: string; readonly target: string }
  | { readonly op: "delete"; readonly path: string };

/** A reload for one mount: the steps that bring others' committed changes in. */
export interface ReloadPlan {
  readonly mount: string;
  readonly version: number;
  readonly ops: ReadonlyArray<ReloadOp>;
}

export interface MountedVolumeOptions {
  /** Where the sandbox sees it. */
  readonly mount: string;
  readonly name: string;
  /** The directory on the host bound read-write at `mount`. */
  readonly hostDir: string;
  /** This container's staging directory on the host, and where the sandbox sees it (read-only). */
  readonly stagingDir: string;
  readonly stagingInSandbox: string;
  readonly client: VolumeClient;
  readonly cache: ContentCache;
  /** Host account the sandbox runs as, when it is not the agent's own (the agent runs as root). */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

const parentsOf = (path: string): string[] => {
  const out: string[] = [];
  for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) out.push(path.slice(0, i));
  return out;
};

/**
 * One volume mounted into one container. Before the sandbox starts, the latest version is
 * materialised into `hostDir` from the node's content cache. `commit()` scans the directory,
 * diffs it against the version the container last synced with, uploads only the blocks the
 * store lacks and publishes the changes as a new version (last writer wins per file).
 * `reload()` brings in what others committed since, keeping the container's uncommitted changes
 * (they win at its next commit); its file writes are made by the runner inside the sandbox, so a
 * link the container planted can never redirect a write made with the agent's privileges.
 *
 * @example
 * ```ts
 * const vol = new MountedVolume({ mount: "/data", name: "weights", hostDir, stagingDir, stagingInSandbox, client, cache });
 * await vol.materialize();
 * const outcome = await vol.commit();
 * ```
 */
export class MountedVolume {
  readonly mount: string;
  readonly name: string;
  readonly hostDir: string;
  private readonly opts: MountedVolumeOptions;
  private readonly stats = new StatCache();
  /** The version the directory was last synced with, and its manifest. */
  private base: VolumeManifest = {};
  private baseVersion = 0;

  constructor(opts: MountedVolumeOptions) {
    this.opts = opts;
    this.mount = opts.mount;
    this.name = opts.name;
    this.hostDir = opts.hostDir;
  }

  /** Fill `hostDir` with the latest version (the sandbox is not running yet: the agent writes alone). */
  async materialize(): Promise<void> {
    const { version, manifest } = await this.opts.client.manifest();
    await mkdir(this.hostDir, { recursive: true, mode: 0o755 });
    await this.own(this.hostDir, false);
    const made = new Set<string>();
    for (const [path, entry] of Object.entries(manifest)) {
      for (const p of parentsOf(path)) {
        if (made.has(p)) continue;
        await mkdir(join(this.hostDir, p), { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== "EEXIST") throw e;
        });
        await this.own(join(this.hostDir, p), false);
        made.add(p);
      }
      const dest = join(this.hostDir, path);
      if (entry.kind === "symlink") {
        await symlink(entry.target, dest);
        await this.own(dest, true);
        continue;
      }
      const cached = await this.opts.cache.ensure(entry, this.opts.client);
      await copyFile(cached, dest, constants.COPYFILE_FICLONE);
      await chmod(dest, entry.mode);
      await this.own(dest, false);
      this.stats.set(path, await lstat(dest, { bigint: true }), entry);
    }
    this.base = manifest;
    this.baseVersion = version;
  }

  /** Publish the directory's changes since the last sync as a new version. */
  async commit(): Promise<CommitOutcome> {
    const realRoot = await realpath(this.hostDir);
    const scan = await scanVolumeDirectory(realRoot, this.stats);
    const changes = diffVolumeManifests(this.base, scan.manifest);
    if (changes.length === 0) return { version: this.baseVersion, changed: 0, uploadedBlocks: 0, uploadedBytes: 0, skipped: scan.skipped };
    // Where each block can be read from: the first changed file holding it.
    const sources = new Map<string, { path: string; index: number }>();
    for (const c of changes) {
      if (c.entry?.kind !== "file") continue;
      c.entry.blocks.forEach((digest, index) => {
        if (!sources.has(digest)) sources.set(digest, { path: c.path, index });
      });
    }
    const missing = await this.opts.client.missing([...sources.keys()]);
    let uploadedBytes = 0;
    for (const digest of missing) {
      const { path, index } = sources.get(digest)!;
      const bytes = await readBlockInside(realRoot, join(realRoot, path), index, digest);
      await this.opts.client.putBlock(digest, bytes);
      uploadedBytes += bytes.byteLength;
    }
    const result = await this.opts.client.commit(changes);
    this.base = scan.manifest;
    this.baseVersion = result.version;
    // Keep new contents on this node too, so the next container mounting the volume copies them locally.
    for (const c of changes) {
      if (c.entry?.kind === "file") await this.opts.cache.adopt(join(realRoot, c.path), c.entry.digest).catch(() => undefined);
    }
    return { version: result.version, changed: changes.length, uploadedBlocks: missing.length, uploadedBytes, skipped: scan.skipped };
  }

  /**
   * The steps that bring the latest version into the directory, skipping every path the
   * container changed since its last sync (and paths above or below those): uncommitted local
   * changes are kept, and win at the next commit. New contents are staged read-only for the runner.
   */
  async planReload(): Promise<ReloadPlan> {
    const realRoot = await realpath(this.hostDir);
    const local = await scanVolumeDirectory(realRoot, this.stats);
    const localChanges = new Set(diffVolumeManifests(this.base, local.manifest).map((c) => c.path));
    const touchesLocal = (path: string) =>
      localChanges.has(path) || parentsOf(path).some((p) => localChanges.has(p)) || [...localChanges].some((p) => p.startsWith(`${path}/`));
    const latest = await this.opts.client.manifest();
    const deletes: ReloadOp[] = [];
    const writes: ReloadOp[] = [];
    for (const c of diffVolumeManifests(this.base, latest.manifest)) {
      if (touchesLocal(c.path)) continue;
      if (c.entry === null) deletes.push({ op: "delete", path: c.path });
      else if (c.entry.kind === "symlink") writes.push({ op: "symlink", path: c.path, target: c.entry.target });
      else {
        const cached = await this.opts.cache.ensure(c.entry, this.opts.client);
        const staged = join(this.opts.stagingDir, c.entry.digest);
        if (!(await lstat(staged).then(() => true, () => false))) {
          await copyFile(cached, staged, constants.COPYFILE_FICLONE);
          await chmod(staged, 0o444);
        }
        writes.push({ op: "write", path: c.path, source: `${this.opts.stagingInSandbox}/${c.entry.digest}`, mode: c.entry.mode });
      }
    }
    this.base = latest.manifest;
    this.baseVersion = latest.version;
    // Deepest deletions first, then writes parents-first.
    deletes.sort((a, b) => b.path.length - a.path.length);
    writes.sort((a, b) => (a.path < b.path ? -1 : 1));
    return { mount: this.mount, version: latest.version, ops: [...deletes, ...writes] };
  }

  private async own(path: string, link: boolean): Promise<void> {
    const o = this.opts.owner;
    if (!o) return;
    await (link ? lchown(path, o.uid, o.gid) : chown(path, o.uid, o.gid));
  }
}
