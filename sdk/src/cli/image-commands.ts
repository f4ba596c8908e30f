/**
 * `ferry image build FILE`: build the images an app's functions use, streaming each step's
 * progress (`[2/5] RUN …`, `[1/5] CACHED …`) and output, one line per event.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { Effect, Option } from "effect";
import { Argument, Command, Flag } from "effect/cli";
import type { ImageSpec } from "@ferry/core";
import { buildImage, canonicalJson, exportOci } from "@ferry/image-builder";
import { bundleApp } from "../bundling/bundle-app.ts";
import { discoverApp } from "../bundling/discover-app.ts";
import { isImage } from "../images/image.ts";
import { info, reportError } from "./cli-output.ts";

/** Where built layers are cached unless FERRY_IMAGE_CACHE says otherwise. */
export const defaultImageCacheDir = (): string => process.env.FERRY_IMAGE_CACHE ?? join(homedir(), ".cache", "ferry", "images");

const action = <A>(f: (a: A) => Promise<void>) => (a: A) => Effect.promise(() => f(a).catch(reportError));

/** The distinct images of an app (app default first), with the functions that use each. */
const appImages = (appImage: unknown, functions: ReadonlyArray<{ name: string; options: { image?: unknown } }>): Array<{ spec: ImageSpec; users: string[] }> => {
  const bySpec = new Map<string, { spec: ImageSpec; users: string[] }>();
  const add = (image: unknown, user: string) => {
    const spec = isImage(image) ? image.toSpec() : (image as ImageSpec);
    const id = canonicalJson(spec);
    const entry = bySpec.get(id) ?? { spec, users: [] };
    entry.users.push(user);
    bySpec.set(id, entry);
  };
  for (const f of functions) if (f.options.image !== undefined) add(f.options.image, f.name);
  if (appImage !== undefined) for (const f of functions) if (f.options.image === undefined) add(appImage, f.name);
  return [...bySpec.values()];
};

const imageBuild = Command.make("build", {
  file: Argument.String("file"),
  force: Flag.Boolean("force").pipe(Flag.withDescription("Rebuild every step, ignoring cached layers"), Flag.withDefault(false)),
  timeout: Flag.Int("timeout").pipe(Flag.withDescription("Stop the build after this many seconds"), Flag.optional),
  exportDir: Flag.String("export").pipe(Flag.withDescription("Also write each image as an OCI image layout under this directory"), Flag.optional),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print a JSON summary as the last line"), Flag.withDefault(false)),
}, action(async ({ file, force, timeout, exportDir, json }) => {
  const bundle = await bundleApp(file);
  const scratch = await mkdtemp(join(tmpdir(), "ferry-image-build-"));
  try {
    const { app, functions } = discoverApp(await import(bundle.localModuleUrl), file);
    const images = appImages(app.options.image, functions);
    if (images.length === 0) {
      info(`app ${app.name} uses no custom image: its functions run on "ferry/node"`);
      if (json) process.stdout.write(`${JSON.stringify({ app: app.name, images: [] })}\n`);
      return;
    }
    const appModule = join(scratch, "app.mjs");
    await writeFile(appModule, bundle.code);
    const out = json ? info : (line: string) => void process.stdout.write(`${line}\n`);
    const summary: Array<{ functions: string[]; key: string; layers: number; oci?: string }> = [];
    for (const [i, { spec, users }] of images.entries()) {
      out(`image ${i + 1}/${images.length} (${users.join(", ")}): ${spec.base.kind}, ${spec.steps.length} steps`);
      const built = await buildImage(spec, { cacheDir: defaultImageCacheDir(), force, timeoutS: Option.getOrUndefined(timeout), appModule, onLog: out });
      const oci = Option.isSome(exportDir) ? join(exportDir.value, images.length === 1 ? "" : built.key.slice(0, 12)) : undefined;
      if (oci !== undefined) await exportOci(built, oci, { tag: app.name });
      out(`built image ${built.key.slice(0, 12)} (${built.layers.length} layers${built.mounts.length ? `, ${built.mounts.length} mounted at start` : ""})${oci ? `; OCI layout in ${oci}` : ""}`);
      summary.push({ functions: users, key: built.key, layers: built.layers.length, ...(oci ? { oci } : {}) });
    }
    if (json) process.stdout.write(`${JSON.stringify({ app: app.name, images: summary })}\n`);
  } finally {
    await bundle.dispose();
    await rm(scratch, { recursive: true, force: true });
  }
})).pipe(Command.withDescription("Build the images of an app's functions (cached per step; --force rebuilds)"));

/** `ferry image …` */
export const imageCommand = Command.make("image").pipe(Command.withDescription("Container images"), Command.withSubcommands([imageBuild]));
