// Runs inside the sandbox, bundled into the runner: user code's `vol.commit()` and `vol.reload()`
// become requests to the agent over fd 3, and a reload's plan is applied here, as the sandbox's
// own user, so whatever the container did to its directory can only affect itself.
import { chmod, copyFile, lstat, mkdir, rename, rm, rmdir, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { FromRunner, ToRunner } from "../runner/runner-protocol.ts";
import type { ReloadPlan } from "./mounted-volume.ts";

/** Where the runner puts the hook the SDK's `Volume` looks for (shared by `Symbol.for` across bundles). */
export const VOLUMES_HOOK = Symbol.for("ferry.runner.volumes");

/** The hook's shape: what `vol.commit()` and `vol.reload()` call inside a container. */
export interface VolumesHook {
  commit(name: string): Promise<unknown>;
  reload(name: string): Promise<{ readonly version: number; readonly applied: number }>;
}

/** Apply a reload plan under its mount; the paths that could not be written. */
export const applyReloadPlan = async (plan: ReloadPlan): Promise<string[]> => {
  const failed: string[] = [];
  for (const op of plan.ops) {
    const dest = join(plan.mount, op.path);
    try {
      if (op.op === "delete") {
        await rm(dest, { recursive: true, force: true });
        // Directories the deletion emptied go too (the manifest has no empty directories).
        for (let dir = dirname(dest); dir.startsWith(`${plan.mount}/`); dir = dirname(dir)) {
          if (!(await rmdir(dir).then(() => true, () => false))) break;
        }
        continue;
      }
      await mkdir(dirname(dest), { recursive: true });
      const existing = await lstat(dest).catch(() => undefined);
      if (existing?.isDirectory()) await rm(dest, { recursive: true, force: true });
      if (op.op === "symlink") {
        await rm(dest, { force: true });
        await symlink(op.target, dest);
      } else {
        const tmp = `${dest}.ferry-reload-${process.pid}-${Math.random().toString(36).slice(2)}`;
        await copyFile(op.source, tmp);
        await chmod(tmp, op.mode);
        await rename(tmp, dest);
      }
    } catch {
      failed.push(op.path);
    }
  }
  return failed;
};

/**
 * Install the volumes hook for user code and return the receiver of the agent's answers.
 *
 * @example
 * ```ts
 * const volumes = installVolumeTransport(send);
 * // on { t: "volume_res" } from the agent: volumes.receive(msg)
 * ```
 */
export const installVolumeTransport = (send: (m: FromRunner) => void) => {
  const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  const request = (op: "commit" | "reload" | "applied", name: string, failed?: ReadonlyArray<string>) =>
    new Promise<unknown>((resolve, reject) => {
      const id = `v${++next}`;
      pending.set(id, { resolve, reject });
      send({ t: "volume", id, op, name, ...(failed ? { failed } : {}) });
    });
  const hook: VolumesHook = {
    commit: (name) => request("commit", name),
    async reload(name) {
      const plan = (await request("reload", name)) as ReloadPlan;
      const failed = await applyReloadPlan(plan);
      await request("applied", name, failed);
      if (failed.length > 0) throw new Error(`reload of volume ${name} could not update ${failed.map((p) => `/${p}`).join(", ")}: those paths keep their local contents`);
      return { version: plan.version, applied: plan.ops.length };
    },
  };
  (globalThis as Record<symbol, unknown>)[VOLUMES_HOOK] = hook;
  return {
    receive(m: Extract<ToRunner, { t: "volume_res" }>): void {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (!p) return;
      if (m.ok) p.resolve(m.value);
      else p.reject(Object.assign(new Error(m.error), { name: "VolumeError" }));
    },
  };
};
