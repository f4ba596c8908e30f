import { Hono, type Context } from "hono";
import { Effect, Schema } from "effect";
import {
  AppName, decodeAt, listVolumeDirectory, normalizeVolumePath, NotFoundError, removalsUnder, ValidationError, VolumeChange,
  type ApiError,
} from "@ferry/core";
import { answer, jsonBody, workspaceOf } from "../secrets/answer.ts";
import type { VolumeInfo, VolumeStore } from "./volume-store.ts";

const CreateVolume = Schema.Struct({ name: AppName, ifMissing: Schema.optional(Schema.Boolean) });
const Digest = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/, { message: "expected a sha256 digest in lowercase hex" }));
const MissingBlocks = Schema.Struct({ digests: Schema.Array(Digest) });
const Commit = Schema.Struct({ changes: Schema.Array(VolumeChange) });

/** Header carrying the version a read was served from. */
export const VOLUME_VERSION_HEADER = "x-ferry-volume-version";

/** A volume as the API shows it (its id stays internal). */
const view = (v: VolumeInfo) => ({ name: v.name, version: v.version, files: v.files, bytes: v.bytes, createdAt: v.createdAt, updatedAt: v.updatedAt });

/** A canonical path from a query parameter, or a 400 naming it. */
const pathParam = (c: Context, name: string, required: boolean): Effect.Effect<string, ValidationError> => {
  const raw = c.req.query(name);
  if (raw === undefined && required) return Effect.fail(new ValidationError({ field: `query.${name}`, message: `query.${name}: a path inside the volume is required` }));
  const r = normalizeVolumePath(raw ?? "");
  return r.ok ? Effect.succeed(r.path) : Effect.fail(new ValidationError({ field: `query.${name}`, message: `query.${name}: ${r.reason}` }));
};

const digestParam = (c: Context): Effect.Effect<string, ValidationError> => {
  const d = c.req.param("digest") ?? "";
  return /^[0-9a-f]{64}$/.test(d) ? Effect.succeed(d) : Effect.fail(new ValidationError({ field: "path.digest", message: "path.digest: expected a sha256 digest in lowercase hex" }));
};

/**
 * The routes on one volume's data, mounted twice: by name for the edge (`/volumes/:name/…`,
 * within the workspace the edge names) and by id for agents (`/volume-ids/:id/…`, ids being
 * unguessable and handed only to the agents running a container that mounts the volume).
 */
const dataRoutes = (app: Hono, prefix: string, store: VolumeStore, resolve: (c: Context) => Effect.Effect<VolumeInfo, ApiError>) => {
  app.get(`${prefix}/manifest`, (c) => answer(c, Effect.gen(function*() {
    const v = yield* resolve(c);
    const version = c.req.query("version");
    return yield* store.manifest(v, version === undefined ? undefined : Number(version));
  }), (m) => c.json(m)));

  app.get(`${prefix}/list`, (c) => answer(c, Effect.gen(function*() {
    const v = yield* resolve(c);
    const dir = yield* pathParam(c, "dir", false);
    const { version, manifest } = yield* store.manifest(v);
    const entries = listVolumeDirectory(manifest, dir);
    if (!entries) return yield* new NotFoundError({ kind: "directory", id: `${v.name}:/${dir}` });
    return { version, entries };
  }), (r) => c.json(r)));

  // A file's bytes, streamed block by block.
  app.get(`${prefix}/file`, (c) => answer(c, Effect.gen(function*() {
    const v = yield* resolve(c);
    const path = yield* pathParam(c, "path", true);
    const { version, manifest } = yield* store.manifest(v);
    const entry = manifest[path];
    if (!entry) {
      const isDir = Object.keys(manifest).some((p) => p.startsWith(`${path}/`));
      if (isDir || path === "") return yield* new ValidationError({ field: "query.path", message: `query.path: /${path} is a directory: list it instead` });
      return yield* new NotFoundError({ kind: "file", id: `${v.name}:/${path}` });
    }
    if (entry.kind === "symlink") return yield* new ValidationError({ field: "query.path", message: `query.path: /${path} is a symlink to ${entry.target}: read that path instead` });
    return { version, entry, workspaceId: v.workspaceId };
  }), ({ version, entry, workspaceId }) => {
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        if (i >= entry.blocks.length) return ctl.close();
        ctl.enqueue(await Effect.runPromise(store.getBlock(workspaceId, entry.blocks[i++]!)));
      },
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream", "content-length": String(entry.size), [VOLUME_VERSION_HEADER]: String(version) } });
  }));

  app.post(`${prefix}/blocks/missing`, (c) => answer(c, Effect.gen(function*() {
    const v = yield* resolve(c);
    const req = yield* Effect.fromResult(decodeAt(MissingBlocks, yield* jsonBody(c), "body"));
    return { missing: yield* store.missingBlocks(v.workspaceId, req.digests) };
  }), (r) => c.json(r)));

  app.put(`${prefix}/blocks/:digest`, (c) => answer(c, Effect.gen(function*() {
    const v = yield* resolve(c);
    const digest = yield* digestParam(c);
    const bytes = new Uint8Array(yield* Effect.promise(() => c.req.arrayBuffer()));
    yield* store.putBlock(v.workspaceId, digest, bytes);
    return { stored: digest };
  }), (r) => c.json(r)));

  app.get(`${prefix}/blocks/:digest`, (c) => answer(c, Effect.gen(function*() {
    const v = yield* resolve(c);
    return yield* store.getBlock(v.workspaceId, yield* digestParam(c));
  }), (bytes) => c.body(bytes as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/octet-stream" })));

  app.post(`${prefix}/commit`, (c) => answer(c, Effect.gen(function*() {
    const v = yield* resolve(c);
    const req = yield* Effect.fromResult(decodeAt(Commit, yield* jsonBody(c), "body"));
    return yield* store.commit(v, req.changes);
  }), (r) => c.json(r)));

  // Remove a file, or a directory and everything under it, as a commit.
  app.delete(`${prefix}/files`, (c) => answer(c, Effect.gen(function*() {
    const v = yield* resolve(c);
    const path = yield* pathParam(c, "path", true);
    const { manifest } = yield* store.manifest(v);
    const removals = removalsUnder(manifest, path);
    if (removals.length === 0) return yield* new NotFoundError({ kind: "path", id: `${v.name}:/${path}` });
    return yield* store.commit(v, removals);
  }), (r) => c.json(r)));
};

/**
 * The region's internal volume routes: create, list, inspect and delete volumes for the edge
 * (by name, in the workspace it names), and the data plane (manifests, listings, file reads,
 * block uploads, commits) for the edge and for agents.
 */
export const volumeApi = (store: VolumeStore) => {
  const app = new Hono();
  app.get("/volumes", (c) => answer(c, Effect.gen(function*() {
    return (yield* store.list(yield* workspaceOf(c))).map(view);
  }), (volumes) => c.json({ volumes })));
  app.post("/volumes", (c) => answer(c, Effect.gen(function*() {
    const ws = yield* workspaceOf(c);
    const req = yield* Effect.fromResult(decodeAt(CreateVolume, yield* jsonBody(c), "body"));
    return yield* store.create(ws, req.name, { ifMissing: req.ifMissing ?? false });
  }), ({ volume, created }) => c.json({ volume: view(volume), created }, created ? 201 : 200)));
  app.get("/volumes/:name", (c) => answer(c, Effect.gen(function*() {
    return view(yield* store.byName(yield* workspaceOf(c), c.req.param("name")));
  }), (v) => c.json(v)));
  app.delete("/volumes/:name", (c) => answer(c, Effect.gen(function*() {
    yield* store.remove(yield* workspaceOf(c), c.req.param("name"));
    return { deleted: c.req.param("name") };
  }), (r) => c.json(r)));
  dataRoutes(app, "/volumes/:name", store, (c) => Effect.gen(function*() {
    return yield* store.byName(yield* workspaceOf(c), c.req.param("name") ?? "");
  }));
  dataRoutes(app, "/volume-ids/:id", store, (c) => store.byId(c.req.param("id") ?? ""));
  return app;
};
