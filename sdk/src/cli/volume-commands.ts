import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import type { VolumeListing } from "@ferry/core";
import { normalizeVolumePath } from "../../../core/src/volumes/volume-paths.ts";
import { FerryClient } from "../client/ferry-client.ts";
import { Volume, type VolumeInfo } from "../volumes/volume.ts";
import { uploadFiles, type UploadFile } from "../volumes/volume-upload.ts";
import { info, printTable, reportError } from "./cli-output.ts";

const action = <A>(f: (a: A) => Promise<void>) => (a: A) => Effect.promise(() => f(a).catch(reportError));
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print machine-readable JSON"), Flag.withDefault(false));
const client = () => FerryClient.fromEnvironment();
const volumePath = (name: string, suffix = "") => `/v1/volumes/${encodeURIComponent(name)}${suffix}`;

const size = (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`);

/** A canonical volume path, or an error naming the argument. */
const remote = (path: string, what: string): string => {
  const r = normalizeVolumePath(path);
  if (!r.ok) throw new Error(`${what}: ${r.reason}`);
  return r.path;
};

/** Every regular file under a local directory (symlinks followed), as volume paths under `prefix`. */
async function* localFiles(dir: string, prefix: string): AsyncGenerator<UploadFile> {
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const local = join(dir, d.name);
    const st = await stat(local);
    const path = prefix === "" ? d.name : `${prefix}/${d.name}`;
    if (st.isDirectory()) yield* localFiles(local, path);
    else if (st.isFile()) yield { path, read: async () => new Uint8Array(await readFile(local)), mode: st.mode & 0o777 };
  }
}

const create = Command.make("create", { name: Argument.String("name") }, action(async ({ name }) => {
  await (await client()).request("POST", "/v1/volumes", { name });
  process.stdout.write(`created volume ${name}\n`);
})).pipe(Command.withDescription("Create an empty volume"));

const list = Command.make("list", { json }, action(async ({ json }) => {
  const { volumes } = await (await client()).request<{ volumes: VolumeInfo[] }>("GET", "/v1/volumes");
  if (json) return void process.stdout.write(`${JSON.stringify(volumes)}\n`);
  printTable(["NAME", "VERSION", "FILES", "SIZE", "UPDATED"], volumes.map((v) => [v.name, String(v.version), String(v.files), size(v.bytes), new Date(v.updatedAt).toISOString()]));
})).pipe(Command.withDescription("List volumes"));

const ls = Command.make("ls", {
  name: Argument.String("name"),
  dir: Argument.String("dir").pipe(Argument.withDefault("/")),
  json,
}, action(async ({ name, dir, json }) => {
  const { entries } = await (await client()).request<{ entries: VolumeListing[] }>("GET", `${volumePath(name, "/list")}?${new URLSearchParams({ dir: remote(dir, "DIR") })}`);
  if (json) return void process.stdout.write(`${JSON.stringify(entries)}\n`);
  printTable(["TYPE", "SIZE", "PATH"], entries.map((e) => [e.type, e.type === "symlink" ? `-> ${e.target}` : size(e.size), `/${e.path}${e.type === "dir" ? "/" : ""}`]));
})).pipe(Command.withDescription("List a directory of a volume"));

const put = Command.make("put", {
  name: Argument.String("name"),
  local: Argument.String("local-path"),
  remotePath: Argument.String("remote-path").pipe(Argument.optional),
}, action(async ({ name, local, remotePath }) => {
  const st = await stat(local);
  const target = Option.getOrUndefined(remotePath);
  let files: Iterable<UploadFile> | AsyncIterable<UploadFile>;
  if (st.isDirectory()) {
    files = localFiles(local, remote(target ?? "/", "REMOTE_PATH"));
  } else {
    // A remote path ending in "/" (or none) is a directory the file goes into under its own name.
    const dest = target === undefined || target.endsWith("/") ? `${target ?? ""}/${basename(local)}` : target;
    files = [{ path: remote(dest, "REMOTE_PATH"), read: async () => new Uint8Array(await readFile(local)), mode: st.mode & 0o777 }];
  }
  const r = await uploadFiles(await client(), name, files, (path, n) => info(`put /${path} (${size(n)})`));
  process.stdout.write(`committed ${r.files} file${r.files === 1 ? "" : "s"} (${size(r.bytes)}) to ${name} as version ${r.version}; uploaded ${size(r.uploadedBytes)}, the rest was already stored\n`);
})).pipe(Command.withDescription("Upload a file or directory into a volume (as one new version)"));

const get = Command.make("get", {
  name: Argument.String("name"),
  remotePath: Argument.String("remote-path"),
  local: Argument.String("local-path").pipe(Argument.optional),
}, action(async ({ name, remotePath, local }) => {
  const c = await client();
  const vol = Volume.fromName(name);
  const path = remote(remotePath, "REMOTE_PATH");
  const dest = Option.getOrUndefined(local);
  if (dest === "-") return void process.stdout.write(await vol.read(path));
  // A directory (the only paths that list) comes down whole, below the local path.
  const listed = await c.request<{ entries: VolumeListing[] }>("GET", `${volumePath(name, "/list")}?${new URLSearchParams({ dir: path })}`).catch(() => undefined);
  if (listed) {
    const root = dest ?? (path === "" ? name : basename(path));
    let count = 0;
    const pull = async (dir: string): Promise<void> => {
      for (const e of await vol.list(dir)) {
        const out = join(root, relative(path, e.path));
        if (e.type === "dir") await pull(e.path);
        else if (e.type === "file") {
          await mkdir(dirname(out), { recursive: true });
          await writeFile(out, await vol.read(e.path), { mode: e.mode });
          info(`got /${e.path}`);
          count++;
        }
      }
    };
    await pull(path);
    process.stdout.write(`downloaded ${count} file${count === 1 ? "" : "s"} into ${root}\n`);
    return;
  }
  const out = dest ?? basename(path);
  const bytes = await vol.read(path);
  await writeFile(out, bytes);
  process.stdout.write(`downloaded /${path} (${size(bytes.byteLength)}) to ${out}\n`);
})).pipe(Command.withDescription("Download a file or directory from a volume (LOCAL_PATH '-' writes a file to stdout)"));

const rm = Command.make("rm", { name: Argument.String("name"), path: Argument.String("path") }, action(async ({ name, path }) => {
  const r = await Volume.fromName(name).remove(path);
  process.stdout.write(`removed /${remote(path, "PATH")} from ${name} (version ${r.version})\n`);
})).pipe(Command.withDescription("Remove a file, or a directory and its contents, from a volume"));

const remove = Command.make("delete", { name: Argument.String("name") }, action(async ({ name }) => {
  await (await client()).request("DELETE", volumePath(name));
  process.stdout.write(`deleted volume ${name}\n`);
})).pipe(Command.withDescription("Delete a volume and its contents"));

/** `ferry volume create / list / ls / put / get / rm / delete`. */
export const volumeCommand = Command.make("volume").pipe(
  Command.withDescription("Volumes: persistent file systems mounted into containers"),
  Command.withSubcommands([create, list, ls, put, get, rm, remove]),
);
