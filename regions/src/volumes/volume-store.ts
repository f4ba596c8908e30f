import { createHash } from "node:crypto";
import type { Client, InArgs, Row } from "@libsql/client";
import { Effect } from "effect";
import {
  applyVolumeChanges, ConflictError, Limits, newId, NotFoundError, PayloadTooLargeError, StorageError, ValidationError, volumeTotals,
  type VolumeChange, type VolumeManifest,
} from "@ferry/core";
import { checkCommitChanges } from "./check-commit.ts";

/** Versions of a volume kept after each commit (older manifests are dropped; blocks stay while referenced). */
export const VOLUME_VERSIONS_KEPT = 10;
/** A block younger than this is never collected: a commit may be about to reference it. */
export const BLOCK_GC_GRACE_MS = 60 * 60 * 1000;
/** Commits that raced for the same next version retry this many times. */
const COMMIT_ATTEMPTS = 8;
/** Most digests one SQL statement asks about. */
const DIGESTS_PER_QUERY = 500;

/** A volume as listed. */
export interface VolumeInfo {
  readonly id: string;
  readonly workspaceId: string;
  readonly name: string;
  /** The latest version: 0 when created, one more per commit. */
  readonly version: number;
  readonly files: number;
  readonly bytes: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What a commit did. */
export interface CommitResult {
  readonly version: number;
  /** Paths the commit added, changed or removed. */
  readonly changed: number;
  readonly files: number;
  readonly bytes: number;
}

const toInfo = (r: Row): VolumeInfo => ({
  id: String(r.id), workspaceId: String(r.workspace_id), name: String(r.name), version: Number(r.version),
  files: Number(r.files), bytes: Number(r.bytes), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
});

const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const chunks = <T>(xs: ReadonlyArray<T>, n: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
};
const isConstraintError = (e: unknown) => /constraint/i.test(String((e as Error)?.message ?? e));

/**
 * Volumes in libSQL: metadata, one manifest per version, and file contents as content-addressed
 * blocks (SHA-256) stored once per workspace, so a commit uploads only the blocks the store lacks
 * and an unchanged file costs nothing. Blocks are scoped to a workspace: no one can read, or
 * learn of, another workspace's content by its digest.
 *
 * @example
 * ```ts
 * const store = new VolumeStore(client);
 * const { volume } = await Effect.runPromise(store.create(ws, "weights", { ifMissing: true }));
 * await Effect.runPromise(store.commit(volume, [{ path: "a.txt", entry }]));
 * ```
 */
export class VolumeStore {
  private readonly client: Client;

  constructor(client: Client) {
    this.client = client;
  }

  private run(operation: string, sql: string, args: InArgs = []) {
    return Effect.tryPromise({ try: () => this.client.execute({ sql, args }), catch: (cause) => new StorageError({ operation, cause }) });
  }

  /** Create a volume (version 0, empty); an existing name is a conflict unless `ifMissing`. */
  create = Effect.fn("VolumeStore.create")(function*(this: VolumeStore, workspaceId: string, name: string, opts: { readonly ifMissing: boolean }) {
    const id = newId("vo");
    const now = Date.now();
    const rs = yield* Effect.tryPromise({
      try: () => this.client.batch([
        { sql: "INSERT INTO volumes (id, workspace_id, name, version, files, bytes, created_at, updated_at) VALUES (?, ?, ?, 0, 0, 0, ?, ?) ON CONFLICT(workspace_id, name) DO NOTHING", args: [id, workspaceId, name, now, now] },
        { sql: "INSERT INTO volume_versions (volume_id, version, manifest, changed_files, created_at) SELECT ?, 0, '{}', 0, ? WHERE changes() > 0", args: [id, now] },
      ], "write"),
      catch: (cause) => new StorageError({ operation: "createVolume", cause }),
    });
    const created = (rs[0]?.rowsAffected ?? 0) > 0;
    if (!created && !opts.ifMissing) return yield* new ConflictError({ message: `volume ${name} already exists` });
    return { volume: yield* this.byName(workspaceId, name), created };
  });

  byName = Effect.fn("VolumeStore.byName")(function*(this: VolumeStore, workspaceId: string, name: string) {
    const r = (yield* this.run("getVolume", "SELECT * FROM volumes WHERE workspace_id = ? AND name = ?", [workspaceId, name])).rows[0];
    if (!r) return yield* new NotFoundError({ kind: "volume", id: name });
    return toInfo(r);
  });

  byId = Effect.fn("VolumeStore.byId")(function*(this: VolumeStore, id: string) {
    const r = (yield* this.run("getVolume", "SELECT * FROM volumes WHERE id = ?", [id])).rows[0];
    if (!r) return yield* new NotFoundError({ kind: "volume", id });
    return toInfo(r);
  });

  /** Which of the named volumes the workspace has; name → id. */
  idsByName = Effect.fn("VolumeStore.idsByName")(function*(this: VolumeStore, workspaceId: string, names: ReadonlyArray<string>) {
    const out = new Map<string, string>();
    if (names.length === 0) return out;
    const unique = [...new Set(names)];
    const rs = yield* this.run("findVolumes", `SELECT id, name FROM volumes WHERE workspace_id = ? AND name IN (${unique.map(() => "?").join(",")})`, [workspaceId, ...unique]);
    for (const r of rs.rows) out.set(String(r.name), String(r.id));
    return out;
  });

  list = Effect.fn("VolumeStore.list")(function*(this: VolumeStore, workspaceId: string) {
    return (yield* this.run("listVolumes", "SELECT * FROM volumes WHERE workspace_id = ? ORDER BY name", [workspaceId])).rows.map(toInfo);
  });

  /** Delete a volume and its versions, then the workspace's blocks no version references any more. */
  remove = Effect.fn("VolumeStore.remove")(function*(this: VolumeStore, workspaceId: string, name: string) {
    const volume = yield* this.byName(workspaceId, name);
    yield* Effect.tryPromise({
      try: () => this.client.batch([
        { sql: "DELETE FROM volume_versions WHERE volume_id = ?", args: [volume.id] },
        { sql: "DELETE FROM volumes WHERE id = ?", args: [volume.id] },
      ], "write"),
      catch: (cause) => new StorageError({ operation: "deleteVolume", cause }),
    });
    yield* this.collectBlocks(workspaceId);
  });

  /** The manifest of the latest version (or of `version`, while it is kept). */
  manifest = Effect.fn("VolumeStore.manifest")(function*(this: VolumeStore, volume: VolumeInfo, version?: number) {
    const rs = version === undefined
      ? yield* this.run("readManifest", "SELECT version, manifest FROM volume_versions WHERE volume_id = ? ORDER BY version DESC LIMIT 1", [volume.id])
      : yield* this.run("readManifest", "SELECT version, manifest FROM volume_versions WHERE volume_id = ? AND version = ?", [volume.id, version]);
    const r = rs.rows[0];
    if (!r) return yield* new NotFoundError({ kind: "volume version", id: `${volume.name}@${version ?? "latest"}` });
    return { version: Number(r.version), manifest: JSON.parse(String(r.manifest)) as VolumeManifest };
  });

  /** Which of `digests` the workspace's block store lacks: all a commit needs to upload. */
  missingBlocks = Effect.fn("VolumeStore.missingBlocks")(function*(this: VolumeStore, workspaceId: string, digests: ReadonlyArray<string>) {
    const sizes = yield* this.blockSizes(workspaceId, digests);
    return [...new Set(digests)].filter((d) => !sizes.has(d));
  });

  /** Store one block; its digest must be the SHA-256 of its bytes. Storing a known block is a no-op. */
  putBlock = Effect.fn("VolumeStore.putBlock")(function*(this: VolumeStore, workspaceId: string, digest: string, bytes: Uint8Array) {
    if (bytes.byteLength > Limits.volumeBlockBytes) {
      return yield* new PayloadTooLargeError({ limit: "volumeBlockBytes", maxBytes: Limits.volumeBlockBytes, message: `a block is at most ${Limits.volumeBlockBytes} bytes (volumeBlockBytes), got ${bytes.byteLength}` });
    }
    const actual = sha256Hex(bytes);
    if (actual !== digest) return yield* new ValidationError({ field: "body", message: `body: the block's sha256 is ${actual}, not ${digest}` });
    yield* this.run("putBlock", "INSERT INTO volume_blocks (workspace_id, digest, bytes, size, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      [workspaceId, digest, bytes, bytes.byteLength, Date.now()]);
  });

  getBlock = Effect.fn("VolumeStore.getBlock")(function*(this: VolumeStore, workspaceId: string, digest: string) {
    const r = (yield* this.run("getBlock", "SELECT bytes FROM volume_blocks WHERE workspace_id = ? AND digest = ?", [workspaceId, digest])).rows[0];
    if (!r) return yield* new NotFoundError({ kind: "block", id: digest });
    const v = r.bytes as ArrayBuffer | Uint8Array;
    return v instanceof Uint8Array ? v : new Uint8Array(v);
  });

  /**
   * Publish `changes` as the next version, on top of the latest one (last writer wins per path;
   * see `applyVolumeChanges`). Every block a file names must already be stored, and the result
   * must stay within the file-count and size limits. Concurrent commits each get their own version.
   */
  commit = Effect.fn("VolumeStore.commit")(function*(this: VolumeStore, volume: VolumeInfo, changes: ReadonlyArray<VolumeChange>) {
    const problem = checkCommitChanges(changes);
    if (problem) return yield* new ValidationError(problem);
    const digests = changes.flatMap((c) => (c.entry?.kind === "file" ? c.entry.blocks : []));
    const sizes = yield* this.blockSizes(volume.workspaceId, digests);
    for (const [i, c] of changes.entries()) {
      if (c.entry?.kind !== "file") continue;
      const missing = c.entry.blocks.find((d) => !sizes.has(d));
      if (missing) return yield* new ConflictError({ message: `body.changes[${i}]: block ${missing} of ${c.path} is not stored: upload it before committing` });
      const total = c.entry.blocks.reduce((n, d) => n + sizes.get(d)!, 0);
      if (total !== c.entry.size) return yield* new ValidationError({ field: `body.changes[${i}].entry.size`, message: `body.changes[${i}].entry.size: the blocks of ${c.path} hold ${total} bytes, not ${c.entry.size}` });
    }
    for (let attempt = 1; ; attempt++) {
      const latest = yield* this.manifest(volume);
      const next = applyVolumeChanges(latest.manifest, changes);
      const totals = volumeTotals(next);
      if (totals.files > Limits.maxVolumeFiles) {
        return yield* new PayloadTooLargeError({ limit: "maxVolumeFiles", maxBytes: Limits.maxVolumeFiles, message: `volume ${volume.name} would hold ${totals.files} files; the limit (maxVolumeFiles) is ${Limits.maxVolumeFiles}` });
      }
      if (totals.bytes > Limits.maxVolumeBytes) {
        return yield* new PayloadTooLargeError({ limit: "maxVolumeBytes", maxBytes: Limits.maxVolumeBytes, message: `volume ${volume.name} would hold ${totals.bytes} bytes; the limit (maxVolumeBytes) is ${Limits.maxVolumeBytes}` });
      }
      const version = latest.version + 1;
      const now = Date.now();
      const published = yield* Effect.tryPromise({
        try: () => this.client.batch([
          { sql: "INSERT INTO volume_versions (volume_id, version, manifest, changed_files, created_at) VALUES (?, ?, ?, ?, ?)", args: [volume.id, version, JSON.stringify(next), changes.length, now] },
          { sql: "UPDATE volumes SET version = ?, files = ?, bytes = ?, updated_at = ? WHERE id = ?", args: [version, totals.files, totals.bytes, now, volume.id] },
          { sql: "DELETE FROM volume_versions WHERE volume_id = ? AND version <= ?", args: [volume.id, version - VOLUME_VERSIONS_KEPT] },
        ], "write").then(() => true, (e: unknown) => {
          if (isConstraintError(e) && attempt < COMMIT_ATTEMPTS) return false;
          throw e;
        }),
        catch: (cause) => new StorageError({ operation: "commitVolume", cause }),
      });
      const result: CommitResult = { version, changed: changes.length, files: totals.files, bytes: totals.bytes };
      if (published) return result;
    }
  });

  private blockSizes(workspaceId: string, digests: ReadonlyArray<string>) {
    return Effect.gen({ self: this }, function*() {
      const sizes = new Map<string, number>();
      for (const part of chunks([...new Set(digests)], DIGESTS_PER_QUERY)) {
        const rs = yield* this.run("findBlocks", `SELECT digest, size FROM volume_blocks WHERE workspace_id = ? AND digest IN (${part.map(() => "?").join(",")})`, [workspaceId, ...part]);
        for (const r of rs.rows) sizes.set(String(r.digest), Number(r.size));
      }
      return sizes;
    });
  }

  /** Delete the workspace's blocks that no kept version of its volumes references (past the grace period). */
  private collectBlocks(workspaceId: string) {
    return Effect.gen({ self: this }, function*() {
      const rs = yield* this.run("collectBlocks",
        "SELECT v.manifest FROM volume_versions v JOIN volumes o ON o.id = v.volume_id WHERE o.workspace_id = ?", [workspaceId]);
      const live = new Set<string>();
      for (const r of rs.rows) {
        for (const e of Object.values(JSON.parse(String(r.manifest)) as VolumeManifest)) if (e.kind === "file") for (const b of e.blocks) live.add(b);
      }
      const blocks = yield* this.run("collectBlocks", "SELECT digest FROM volume_blocks WHERE workspace_id = ? AND created_at < ?", [workspaceId, Date.now() - BLOCK_GC_GRACE_MS]);
      const dead = blocks.rows.map((r) => String(r.digest)).filter((d) => !live.has(d));
      for (const part of chunks(dead, DIGESTS_PER_QUERY)) {
        yield* this.run("collectBlocks", `DELETE FROM volume_blocks WHERE workspace_id = ? AND digest IN (${part.map(() => "?").join(",")})`, [workspaceId, ...part]);
      }
    });
  }
}
