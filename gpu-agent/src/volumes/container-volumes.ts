import { chmod, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ContentCache } from "./content-cache.ts";
import { MountedVolume, type CommitOutcome, type ReloadPlan } from "./mounted-volume.ts";
import { VolumeClient } from "./volume-client.ts";

/** Where a container sees the contents a reload brings in, read-only, before the runner moves them into place. */
export const VOLUME_STAGING_IN_SANDBOX = "/opt/ferry/volume-staging";
/** A reload whose runner never reports its plan applied releases the volume after this. */
export const RELOAD_APPLY_TIMEOUT_MS = 60_000;

/** A container's request about one of its volumes, by the volume's name. */
export type VolumeRequest =
  | { readonly op: "commit"; readonly name: string }
  | { readonly op: "reload"; readonly name: string }
  /** The runner applied a reload plan; `failed` lists paths it could not write. */
  | { readonly op: "applied"; readonly name: string; readonly failed?: ReadonlyArray<string> };

export interface ContainerVolumesOptions {
  readonly containerId: string;
  /** Mount path → volume id (from the start command) and → volume name (from the options). */
  readonly ids: Readonly<Record<string, string>>;
  readonly names: Readonly<Record<string, string>>;
  /** Per-node volume directory (`<state>/volumes`). */
  readonly root: string;
  readonly regionUrl: string;
  readonly internalToken: string;
  readonly cache: ContentCache;
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/** Serialises the operations on one mount (a reload holds it until its plan is applied). */
class MountLock {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return ready;
  }
}

/**
 * The volumes of one container: materialised into per-container directories before its sandbox
 * starts, bound read-write at their mount paths, and served to the runner's `commit`/`reload`
 * requests; removed when the container is gone.
 *
 * @example
 * ```ts
 * const vols = await ContainerVolumes.prepare({ containerId, ids: cmd.volumes, names: options.volumes, root, regionUrl, internalToken, cache });
 * startSandbox({ …, readWriteBinds: vols.readWriteBinds(), readOnlyBinds: [...vols.readOnlyBinds()] });
 * ```
 */
export class ContainerVolumes {
  private readonly mounts: ReadonlyArray<MountedVolume>;
  private readonly dir: string;
  private readonly stagingDir: string;
  private readonly locks = new Map<string, MountLock>();
  /** Reloads waiting for their runner to apply them: their lock's release. */
  private readonly awaitingApply = new Map<string, { release: () => void; timer: ReturnType<typeof setTimeout> }>();

  private constructor(mounts: ReadonlyArray<MountedVolume>, dir: string, stagingDir: string) {
    this.mounts = mounts;
    this.dir = dir;
    this.stagingDir = stagingDir;
    for (const m of mounts) this.locks.set(m.name, new MountLock());
  }

  /** Materialise every volume of the container (fetching what the node's cache lacks). */
  static async prepare(o: ContainerVolumesOptions): Promise<ContainerVolumes> {
    const dir = join(o.root, "containers", o.containerId);
    const stagingDir = join(dir, "staging");
    await mkdir(stagingDir, { recursive: true, mode: 0o755 });
    // The sandbox's host user must traverse down to its directories (the content cache beside them stays 0700).
    for (const d of [o.root, join(o.root, "containers"), dir]) await chmod(d, 0o755);
    await chmod(stagingDir, 0o755);
    const mounts = Object.entries(o.ids).map(([mount, id], i) => new MountedVolume({
      mount, name: o.names[mount] ?? id, hostDir: join(dir, `mount-${i}`), stagingDir, stagingInSandbox: VOLUME_STAGING_IN_SANDBOX,
      client: new VolumeClient(o.regionUrl, o.internalToken, id), cache: o.cache, owner: o.owner,
    }));
    const vols = new ContainerVolumes(mounts, dir, stagingDir);
    try {
      for (const m of mounts) await m.materialize();
    } catch (e) {
      await vols.dispose();
      throw e;
    }
    return vols;
  }

  readWriteBinds(): Array<{ hostPath: string; sandboxPath: string }> {
    return this.mounts.map((m) => ({ hostPath: m.hostDir, sandboxPath: m.mount }));
  }

  readOnlyBinds(): Array<{ hostPath: string; sandboxPath: string }> {
    return this.mounts.length > 0 ? [{ hostPath: this.stagingDir, sandboxPath: VOLUME_STAGING_IN_SANDBOX }] : [];
  }

  /** Serve a runner's request; rejects with a message for the user's code. */
  async handle(req: VolumeRequest): Promise<CommitOutcome | ReloadPlan | { readonly applied: true }> {
    const mount = this.mounts.find((m) => m.name === req.name);
    if (!mount) {
      throw new Error(`no volume named ${req.name} is mounted in this container: mount it with volumes: { "/mnt/${req.name}": Volume.fromName("${req.name}") }`);
    }
    if (req.op === "applied") {
      const waiting = this.awaitingApply.get(req.name);
      this.awaitingApply.delete(req.name);
      if (waiting) {
        clearTimeout(waiting.timer);
        waiting.release();
      }
      await this.clearStaging();
      return { applied: true };
    }
    const release = await this.locks.get(req.name)!.acquire();
    if (req.op === "commit") {
      try {
        return await mount.commit();
      } finally {
        release();
      }
    }
    try {
      const plan = await mount.planReload();
      // The runner now writes into the directory: nothing else touches it until it says it is done.
      const timer = setTimeout(() => {
        this.awaitingApply.delete(req.name);
        release();
      }, RELOAD_APPLY_TIMEOUT_MS);
      this.awaitingApply.set(req.name, { release, timer });
      return plan;
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Remove the container's directories (its sandbox is gone: nothing else writes there). */
  async dispose(): Promise<void> {
    for (const w of this.awaitingApply.values()) clearTimeout(w.timer);
    this.awaitingApply.clear();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async clearStaging(): Promise<void> {
    if (this.awaitingApply.size > 0) return;
    for (const f of await readdir(this.stagingDir).catch(() => [])) await rm(join(this.stagingDir, f), { force: true });
  }
}
