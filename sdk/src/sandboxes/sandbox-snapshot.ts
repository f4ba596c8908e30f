/**
 * A sandbox's filesystem at one moment (`sb.snapshotFilesystem()`): its /tmp and /workspace as a
 * content-addressed archive kept by the platform. Pass it (or its `id`) as `image` to
 * `Sandbox.create` to start a sandbox from those files. Functions cannot start from snapshots
 * yet: that comes with built images (`Image`).
 *
 * @example
 * ```ts
 * const snap = await sb.snapshotFilesystem();
 * const again = await Sandbox.create({ app, image: snap });
 * ```
 */
export class SandboxSnapshot {
  readonly id: string;
  readonly kind = "snapshot";
  readonly sandboxId: string;
  /** sha256 of the archive. */
  readonly hash: string;
  readonly sizeBytes: number;
  readonly createdAt: number;

  constructor(fields: { id: string; sandboxId: string; hash: string; sizeBytes: number; createdAt: number }) {
    this.id = fields.id;
    this.sandboxId = fields.sandboxId;
    this.hash = fields.hash;
    this.sizeBytes = fields.sizeBytes;
    this.createdAt = fields.createdAt;
  }

  /** A snapshot by id (from `snapshot.id`, in any process). */
  static fromId(id: string): SandboxSnapshot {
    return new SandboxSnapshot({ id, sandboxId: "", hash: "", sizeBytes: 0, createdAt: 0 });
  }
}
